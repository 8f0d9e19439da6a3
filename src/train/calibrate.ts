/**
 * Shrinking a fine-tuned network's correction toward the baseline (finetune.shrink, on by default).
 *
 * Every model forecasts z * std + yOffset, where yOffset is the encoding's baseline (data/baseline.ts)
 * and z the network's output. After fine-tuning, z is scaled by the least-squares factor
 * a = sum(z y) / sum(z^2) on the few-shot VALIDATION windows (the last 20% of the K days, PROTOCOL.md),
 * clamped to [0, 1]: the forecast becomes the combination (1 - a) baseline + a model. Both models are
 * bias-free, so this is the same parameter vector with its output layer scaled by a, still one
 * complete model.
 *
 * Why: on the shared cities the test error of a transferred model's correction scaled by 0.5 was lower
 * than the unscaled one for every transfer method on la-loop and nyc-bike-grid, and scale 0 (the
 * baseline alone) was best on shenzhen and montevideo (experiments, docs/experiments.md). The
 * corrections carried over from other cities point the right way but are too large, or do not apply.
 * It is applied to every fine-tuned method alike, target-only included. prescaleToTraining is the same
 * scaling before fine-tuning, on the training windows (finetune.prescale).
 */
import type { Forecaster } from '../models/types.js';
import { OUT_STEPS } from '../data/task.js';
import { predictPartNormalized } from './predict.js';
import type { RegionDataset } from './dataset.js';
import type { Calibration } from './config.js';

export interface ShrinkResult {
  params: Float32Array;
  /** The factor applied to the network's output, in [0, 1] (per-horizon: their mean). */
  scale: number;
}

/** The least-squares scale of z toward y over observed entries, clamped to [0, 1] (1 when z is all zero). */
export function leastSquaresScale(z: ArrayLike<number>, y: ArrayLike<number>, mask: ArrayLike<number>): number {
  let zy = 0;
  let zz = 0;
  for (let i = 0; i < z.length; i++) {
    if (!mask[i]) continue;
    zy += z[i]! * y[i]!;
    zz += z[i]! * z[i]!;
  }
  if (!(zz > 0)) return 1;
  return Math.min(1, Math.max(0, zy / zz));
}

/**
 * One least-squares factor per horizon step over [count, steps] predictions, each clamped to [0, 1]
 * as leastSquaresScale: a correction that carries over at the first step and not at the sixth keeps
 * the first and drops the sixth, instead of one compromise for both.
 */
export function leastSquaresScalesByHorizon(z: ArrayLike<number>, y: ArrayLike<number>, mask: ArrayLike<number>, steps = OUT_STEPS): number[] {
  return Array.from({ length: steps }, (_, h) => {
    const pick = <T extends ArrayLike<number>>(a: T) => Array.from({ length: Math.floor(a.length / steps) }, (_, k) => a[k * steps + h]!);
    return leastSquaresScale(pick(z), pick(y), pick(mask));
  });
}

/** `params` with its output layer scaled by the least-squares factor(s) over one part of the few-shot windows. */
function scaleToPart(model: Forecaster, params: Float32Array, dataset: RegionDataset, part: 'train' | 'val', calibration: Calibration): ShrinkResult {
  const w = dataset[part];
  if (w.count === 0) return { params, scale: 1 };
  const z = predictPartNormalized(model, params, dataset, part);
  const scales = calibration === 'per-horizon' ? leastSquaresScalesByHorizon(z, w.y, w.yMask) : [leastSquaresScale(z, w.y, w.yMask)];
  return { params: scaleOutputByHorizon(model, params, scales), scale: scales.reduce((a, b) => a + b, 0) / scales.length };
}

/**
 * `params` with the output layer scaled by `scale`: the model's correction of the baseline times
 * `scale` (both models are bias-free). The same vector when the scale is 1.
 */
export function scaleOutput(model: Forecaster, params: Float32Array, scale: number): Float32Array {
  return scaleOutputByHorizon(model, params, [scale]);
}

/**
 * `params` with output h of the network times `scales[h % scales.length]` (one scale: every output).
 * Both models' output layers are stored [inputs, horizon steps] row-major (stgcn `fully`, gwn `end2`)
 * and have no bias, so entry i feeds horizon i % steps and scaling those entries scales that
 * horizon's correction alone. The same vector when every scale is 1.
 */
export function scaleOutputByHorizon(model: Forecaster, params: Float32Array, scales: readonly number[]): Float32Array {
  if (scales.every((s) => s === 1)) return params;
  const out = params.slice();
  model.layout.view(out, model.outputLayer).forEach((v, i, a) => (a[i] = v * scales[i % scales.length]!));
  return out;
}

/** After fine-tuning: `params` with its output layer scaled by the VALIDATION least-squares factor(s). */
export function shrinkToBaseline(model: Forecaster, params: Float32Array, dataset: RegionDataset, calibration: Calibration = 'region'): ShrinkResult {
  return scaleToPart(model, params, dataset, 'val', calibration);
}

/**
 * Before fine-tuning (finetune.prescale): the init with its output layer scaled by the least-squares
 * factor on the few-shot TRAINING windows, the data fine-tuning itself fits (so validation stays
 * untouched for early stopping and the shrink after). A closed-form first step of fine-tuning: a
 * correction carried over from other cities that points the right way but is too large (generated
 * models on la-loop: factor ~0.3) starts at the size the target supports, and one that does not apply
 * (montevideo-bus: ~0.05) starts near the baseline; gradient steps from an oversized init did not
 * undo it within the budget. A scale of 0 zeroes the output layer; training then grows it back from
 * the output layer's gradient, which does not vanish.
 */
export function prescaleToTraining(model: Forecaster, params: Float32Array, dataset: RegionDataset, calibration: Calibration = 'region'): ShrinkResult {
  return scaleToPart(model, params, dataset, 'train', calibration);
}
