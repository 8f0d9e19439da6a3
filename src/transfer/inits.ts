/**
 * The initial vectors of the model-based methods that start from the bank (PROTOCOL.md methods
 * 4-6): the shared model, the bank's mean vector, and the bank vector whose prompt is nearest.
 */
import { concatPrompt } from '../prompts/build.js';
import type { PromptSet } from './generate.js';

export function meanVector(vs: Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0]!.length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i]! += v[i]!;
  for (let i = 0; i < out.length; i++) out[i]! /= vs.length;
  return out;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : -1;
}

/** For a target region, the bank vector whose full prompt (spatial + temporal) is nearest by cosine. */
export function nearestPromptInit(source: PromptSet, target: PromptSet, vectors: Float32Array[]): (region: number) => Float32Array {
  const sourceFull = source.spatial.map((sp, i) => concatPrompt(sp, source.temporal[i]!));
  return (r: number) => {
    const q = concatPrompt(target.spatial[r]!, target.temporal[r]!);
    let best = 0, bestCos = -Infinity;
    sourceFull.forEach((p, i) => {
      const c = cosine(q, p);
      if (c > bestCos) {
        bestCos = c;
        best = i;
      }
    });
    return vectors[best]!;
  };
}
