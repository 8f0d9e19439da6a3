/**
 * A neighbour prior for the generator (diffusion.prior = neighbours; beyond the paper): the mean of
 * the k bank vectors whose prompts are nearest (cosine) to a region's prompt, in the generator's
 * normalised parameter space. The diffusion model then learns only what is left, the vector minus
 * this prior, and a generated vector is the prior plus a generated residual.
 *
 * Why: on held-out source regions the plain generator returned about the bank's centre (region
 * specificity near 0 at guidance 1, PROTOCOL.md), while the mean of the 5 nearest prompts' vectors
 * alone reached 0.6 (experiments:specificity --predictor knn5): the prompts tell regions apart, the
 * denoiser did not learn to use them from a few hundred examples. The prior hands it that part.
 */

/** Cosine similarity (-1 when either vector is zero). */
function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let j = 0; j < a.length; j++) {
    ab += a[j]! * b[j]!;
    aa += a[j]! * a[j]!;
    bb += b[j]! * b[j]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : -1;
}

export class NeighbourPrior {
  constructor(
    /** The training vectors, normalised (rows aligned with `prompts`). */
    readonly vectors: Float32Array[],
    /** Their full prompts (spatial then temporal, the kinds the generator uses). */
    readonly prompts: Float32Array[],
    readonly k: number,
  ) {
    if (vectors.length !== prompts.length) throw new Error(`neighbour prior: ${vectors.length} vectors for ${prompts.length} prompts`);
    if (!Number.isInteger(k) || k < 1) throw new Error(`neighbour prior: k must be a positive integer, got ${k}`);
  }

  /** The mean vector of the k rows nearest to `prompt`, leaving row `exclude` out (a training row's own). */
  predict(prompt: Float32Array, exclude = -1): Float32Array {
    const order = this.prompts
      .map((p, i) => [i === exclude ? -Infinity : cosine(prompt, p), i] as const)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, Math.min(this.k, this.prompts.length - (exclude >= 0 ? 1 : 0)));
    const out = new Float32Array(this.vectors[0]!.length);
    for (const [, i] of order) {
      const v = this.vectors[i]!;
      for (let p = 0; p < out.length; p++) out[p] += v[p]! / order.length;
    }
    return out;
  }
}

/** A prompt row as the prior compares it: the spatial then the temporal part (either may be absent). */
export function fullPrompt(spatial: Float32Array | undefined, temporal: Float32Array | undefined): Float32Array {
  const s = spatial ?? new Float32Array(0);
  const t = temporal ?? new Float32Array(0);
  const out = new Float32Array(s.length + t.length);
  out.set(s, 0);
  out.set(t, s.length);
  return out;
}
