/**
 * Running a flat parameter vector as a forecaster over a region's windows, in original units —
 * the one prediction path every model-based method is scored with.
 */
import { tf } from '../runtime/backend.js';
import type { Forecaster } from '../models/types.js';
import type { RegionWindows } from '../data/windows.js';
import { predictCentreNormalized } from '../bank/train-region.js';
import type { Normalizer } from '../data/encoding.js';

/** Centre-node predictions [count, outSteps], denormalised to original units. */
export function predictWindows(model: Forecaster, params: Float32Array, adjacency: Float32Array, n: number, w: RegionWindows, norm: Normalizer): Float32Array {
  const p = tf.tensor1d(params);
  const adj = tf.tensor2d(adjacency, [n, n]);
  try {
    const z = predictCentreNormalized(model, p, w, adj);
    for (let i = 0; i < z.length; i++) z[i] = z[i]! * norm.std + w.yOffset[i]!;
    return z;
  } finally {
    p.dispose();
    adj.dispose();
  }
}
