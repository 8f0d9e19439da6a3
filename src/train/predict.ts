/**
 * Running a flat parameter vector as a forecaster over a region's windows, and scoring it: the one
 * prediction path the fit loop's validation, the bank's metrics and every scored method share.
 */
import { tf } from '../runtime/backend.js';
import type { Normalizer } from '../data/encoding.js';
import { IN_FEATURES, IN_STEPS, OUT_STEPS } from '../data/task.js';
import type { RegionWindows } from '../data/windows.js';
import { MetricsAccumulator } from '../metrics/metrics.js';
import type { Forecaster } from '../models/types.js';
import type { RegionDataset } from './dataset.js';

export interface Metric2 {
  mae: number;
  rmse: number;
}

/** Centre-node forecasts [count, 6] in NORMALISED units, in eval mode, batched to bound memory. */
export function predictCentreNormalized(
  model: Forecaster,
  params: tf.Tensor1D,
  w: RegionWindows,
  adjacency: tf.Tensor2D,
  evalBatch = 512,
): Float32Array {
  const out = new Float32Array(w.count * OUT_STEPS);
  const per = w.n * IN_STEPS * IN_FEATURES;
  for (let s = 0; s < w.count; s += evalBatch) {
    const B = Math.min(evalBatch, w.count - s);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(w.x.subarray(s * per, (s + B) * per), [B, w.n, IN_STEPS, IN_FEATURES]);
      const y = model.forward(params, x, adjacency, { training: false });
      return tf.slice(y, [0, 0, 0], [B, 1, OUT_STEPS]);
    });
    out.set(pred.dataSync() as Float32Array, s * OUT_STEPS);
    pred.dispose();
  }
  return out;
}

/** Centre-node forecasts [count, 6] in normalised units from a flat vector and a plain adjacency (tensors made and freed here). */
function predictFlatNormalized(model: Forecaster, params: Float32Array, adjacency: Float32Array, n: number, w: RegionWindows): Float32Array {
  const p = tf.tensor1d(params);
  const adj = tf.tensor2d(adjacency, [n, n]);
  try {
    return predictCentreNormalized(model, p, w, adj);
  } finally {
    p.dispose();
    adj.dispose();
  }
}

/** Centre-node forecasts in normalised units on one part of a region's few-shot windows, from a flat vector. */
export function predictPartNormalized(model: Forecaster, params: Float32Array, dataset: RegionDataset, part: 'train' | 'val'): Float32Array {
  return predictFlatNormalized(model, params, dataset.adjacency, dataset.n, dataset[part]);
}

/** Centre-node predictions [count, outSteps], denormalised to original units. */
export function predictWindows(model: Forecaster, params: Float32Array, adjacency: Float32Array, n: number, w: RegionWindows, norm: Normalizer): Float32Array {
  const z = predictFlatNormalized(model, params, adjacency, n, w);
  for (let i = 0; i < z.length; i++) z[i] = z[i]! * norm.std + w.yOffset[i]!;
  return z;
}

/** MAE/RMSE (original units) and masked MSE in the given loss space, of a parameter vector on windows. */
export function evaluateWindows(
  model: Forecaster,
  params: tf.Tensor1D,
  w: RegionWindows,
  adjacency: tf.Tensor2D,
  norm: Normalizer,
): { metrics: Metric2; sse: number; observed: number; sseNormalized: number } {
  const z = predictCentreNormalized(model, params, w, adjacency);
  const pred = new Float32Array(z.length);
  let sse = 0;
  let sseN = 0;
  let observed = 0;
  for (let i = 0; i < z.length; i++) {
    pred[i] = z[i]! * norm.std + w.yOffset[i]!;
    if (w.yMask[i] === 0) continue;
    const e = pred[i]! - w.yRaw[i]!;
    const en = z[i]! - w.y[i]!;
    sse += e * e;
    sseN += en * en;
    observed++;
  }
  const acc = new MetricsAccumulator(OUT_STEPS);
  acc.add(pred, w.yRaw, w.yMask);
  const r = acc.result();
  return { metrics: { mae: r.maeMean, rmse: r.rmseMean }, sse, observed, sseNormalized: sseN };
}

/** MAE/RMSE in original units pooled over the train or val windows of several datasets (one graph each). */
export function pooledMetrics(model: Forecaster, params: Float32Array, datasets: RegionDataset[], part: 'train' | 'val'): Metric2 {
  const acc = new MetricsAccumulator(OUT_STEPS);
  const p = tf.tensor1d(params);
  try {
    for (const d of datasets) {
      const w = d[part];
      if (w.count === 0) continue;
      const adj = tf.tensor2d(d.adjacency, [d.n, d.n]);
      const z = predictCentreNormalized(model, p, w, adj);
      adj.dispose();
      for (let i = 0; i < z.length; i++) z[i] = z[i]! * d.norm.std + w.yOffset[i]!;
      acc.add(z, w.yRaw, w.yMask);
    }
  } finally {
    p.dispose();
  }
  const r = acc.result();
  return { mae: r.maeMean, rmse: r.rmseMean };
}
