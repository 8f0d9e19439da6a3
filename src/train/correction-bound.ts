/**
 * The correction bound: a model's forecast may move away from the encoding's baseline forecast by no
 * more than `factor` times the largest deviation the region showed in its few-shot days.
 *
 * Why: a network trained (or generated) for a region has seen only K days of it. On test inputs unlike
 * those days a fine-tuned STGCN can extrapolate to forecasts no count series takes: on metro-chongqing
 * one target-only model, after beating its init on the held-out day, strayed more than 100 passengers
 * an hour from its init's forecast on 30% of the test steps, down to -687 where the baseline said 30
 * (docs/protocol-impl.md). The network's output is a correction z of the baseline forecast in
 * normalised units (data/encoding.ts); the K days say how large such corrections get, so the bound
 * is fitted on them alone (PROTOCOL.md) and the factor was chosen on pseudo-targets cut from the data
 * before every test period (experiments/correction-bound.ts).
 *
 * The bound applies where forecasts leave the library (scoring, `gpd forecast`, serving), not to the
 * losses of training or fine-tuning validation: it never changes which model is kept, only how far its
 * forecast may stray, and stored predictions can be bounded after the fact.
 */
import { z } from 'zod';
import type { RegionWindows } from '../data/windows.js';
import type { RegionDataset } from './dataset.js';

/** The range of observed corrections in normalised units ([lo, hi], lo <= 0 <= hi). */
export interface CorrectionRange {
  lo: number;
  hi: number;
}

/**
 * The range of the targets a network is trained to output (the centre node's normalised remainder
 * after the baseline forecast) over the observed steps of a region's few-shot windows, widened to
 * include 0 (the baseline itself is always allowed); null when nothing was observed.
 */
export function fewShotCorrectionRange(dataset: Pick<RegionDataset, 'train' | 'val'>): CorrectionRange | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const w of [dataset.train, dataset.val]) {
    for (let i = 0; i < w.y.length; i++) {
      if (w.yMask[i] === 0) continue;
      const v = w.y[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo > hi) return null;
  return { lo: Math.min(lo, 0), hi: Math.max(hi, 0) };
}

/**
 * How far (original units) a forecast may lie below and above the baseline forecast: factor x range x
 * std; null (unbounded) for factor 0 or no range. What the export's model card states per region.
 */
export function correctionLimits(range: CorrectionRange | null, factor: number, std: number): CorrectionRange | null {
  return range && factor > 0 ? { lo: factor * range.lo * std, hi: factor * range.hi * std } : null;
}

/**
 * Forecasts (original units, [count, 6] over `w`) with each correction clamped to factor x range:
 * pred in [yOffset + factor * lo * std, yOffset + factor * hi * std]. A copy; factor 0 or no range
 * returns the forecasts unchanged (a copy too, so callers may keep both).
 */
export function boundForecasts(pred: Float32Array, w: Pick<RegionWindows, 'yOffset'>, std: number, range: CorrectionRange | null, factor: number): Float32Array {
  const out = pred.slice();
  const limits = correctionLimits(range, factor, std);
  if (!limits) return out;
  const { lo, hi } = limits;
  for (let i = 0; i < out.length; i++) {
    const base = w.yOffset[i]!;
    const v = out[i]!;
    if (v < base + lo) out[i] = base + lo;
    else if (v > base + hi) out[i] = base + hi;
  }
  return out;
}

/**
 * The config field (`data.correctionBound`): the factor; 0 turns the bound off. The default was chosen
 * on pseudo-targets (results/correction-bound.txt).
 */
export const DEFAULT_CORRECTION_BOUND = 1;
export const CorrectionBoundField = z
  .number()
  .nonnegative()
  .default(DEFAULT_CORRECTION_BOUND)
  .describe("clamp every model's forecast correction (its deviation from the baseline forecast) to this multiple of the largest seen in the region's few-shot days (0 = off)");
