/**
 * Fine-tuning one init on one few-shot target region: the recipe every fine-tuned method shares
 * (target-only, source transfer, bank mean, nearest prompt, GPD).
 *
 *   prescale (finetune.prescale) -> fit with early stopping on the few-shot validation part
 *   -> keep the init unless fine-tuning is clearly better there (finetune.guard)
 *   -> shrink the correction (finetune.shrink)
 *   -> keep the baseline alone unless the model is clearly better there (finetune.baselineGuard)
 *
 * Why the guard: early stopping picks the epoch with the lowest validation loss, the init included,
 * but with one validation day (13 windows on a metro) a 1% lower loss is noise, and the epoch it picks
 * can be far worse on the test period: metro-shanghai region 60, K = 3, target-only kept epoch 3 at a
 * validation loss 0.8% below its init's and scored 1875 MAE on the test period against 548 for the
 * init. The guard compares the two per validation window and keeps the init unless the fitted
 * parameters' mean loss is lower by more than `guard` standard errors of the paired difference.
 */
import type { Forecaster } from '../models/types.js';
import type { Rng } from '../util/prng.js';
import { OUT_STEPS } from '../data/task.js';
import { trainConfigOf, type FinetuneConfig } from './config.js';
import type { RegionDataset } from './dataset.js';
import { fitForecaster, type FitHooks, type FitResult } from './fit.js';
import { predictPartNormalized } from './predict.js';
import { prescaleToTraining, scaleOutput, shrinkToBaseline } from './calibrate.js';

export interface FinetuneResult {
  params: Float32Array;
  fit: FitResult;
  /** True when the guard kept the (prescaled) init instead of the fitted parameters. */
  keptInit: boolean;
  /** True when the baseline guard zeroed the correction (finetune.baselineGuard). */
  keptBaseline: boolean;
}

/** Per validation window: the mean squared error over its observed targets (NaN without any), in the loss space. */
export function windowLosses(model: Forecaster, params: Float32Array, d: RegionDataset, lossSpace: 'original' | 'normalized'): Float64Array {
  const w = d.val;
  const z = predictPartNormalized(model, params, d, 'val');
  const scale = lossSpace === 'original' ? d.norm.std * d.norm.std : 1;
  const out = new Float64Array(w.count);
  for (let k = 0; k < w.count; k++) {
    let s = 0;
    let m = 0;
    for (let h = 0; h < OUT_STEPS; h++) {
      const i = k * OUT_STEPS + h;
      if (w.yMask[i] === 0) continue;
      s += (z[i]! - w.y[i]!) ** 2;
      m++;
    }
    out[k] = m > 0 ? (s / m) * scale : NaN;
  }
  return out;
}

/**
 * Whether `fitted` beats `init` on the validation windows by more than `z` standard errors of the
 * paired per-window difference (z = 0: any improvement counts, as plain early stopping). Windows at
 * stride 1 share 5 of their 6 targets, so they count as n / 6 independent ones: with one validation
 * day of a metro (13 windows) that is about 2, and an improvement must be large to count.
 */
export function clearlyBetter(init: Float64Array, fitted: Float64Array, z: number): boolean {
  const diffs: number[] = [];
  for (let k = 0; k < init.length; k++) if (!Number.isNaN(init[k]!) && !Number.isNaN(fitted[k]!)) diffs.push(init[k]! - fitted[k]!);
  if (diffs.length === 0) return true;
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  if (z === 0) return mean > 0;
  const effective = diffs.length / OUT_STEPS;
  if (diffs.length < 2 || effective < 1) return false;
  const sd = Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / (diffs.length - 1));
  return mean > (z * sd) / Math.sqrt(effective);
}

export async function finetune(model: Forecaster, init: Float32Array, dataset: RegionDataset, cfg: FinetuneConfig, rng: Rng, hooks: FitHooks = {}): Promise<FinetuneResult> {
  const start = cfg.prescale ? prescaleToTraining(model, init, dataset, cfg.calibration).params : init;
  const train = trainConfigOf(cfg);
  const fit = await fitForecaster(model, [dataset], start, train, rng, hooks);
  /** Whether `candidate` beats `reference` on the validation windows by `guard` standard errors (both guards' test). */
  const beats = (candidate: Float32Array, reference: Float32Array) =>
    clearlyBetter(windowLosses(model, reference, dataset, train.lossSpace), windowLosses(model, candidate, dataset, train.lossSpace), cfg.guard);
  const keptInit = fit.validated && fit.bestEpoch > 0 && cfg.guard > 0 && !beats(fit.params, start);
  let params = keptInit ? start : fit.params;
  if (cfg.shrink) params = shrinkToBaseline(model, params, dataset, cfg.calibration).params;
  // The encoding's baseline is the same network with its output layer zeroed (both models are bias-free).
  const baseline = cfg.baselineGuard && fit.validated ? scaleOutput(model, params, 0) : undefined;
  const keptBaseline = baseline !== undefined && !beats(params, baseline);
  return { params: keptBaseline ? baseline : params, fit, keptInit, keptBaseline };
}
