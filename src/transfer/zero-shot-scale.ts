/**
 * The size of the generated correction on a new city, chosen on that city's few-shot days
 * (sampling.zeroShotScale = few-shot). The source cities' corrections point the right way on a new
 * city but are several times too large there, and by how much differs by city: one factor for the
 * whole city, chosen by the MAE over every scored region's K days (the smallest factor within one
 * standard error of the lowest), sizes it without training anything. A zero-shot model fits nothing
 * on those days (they only built its prompt), so all of them judge it, not just the validation part
 * fine-tuning holds out; one number for hundreds of regions cannot overfit them the way a per-region
 * fit does (GPD calibrated).
 */
import type { Forecaster } from '../models/types.js';
import { MetricsAccumulator } from '../metrics/metrics.js';
import { OUT_STEPS } from '../data/task.js';
import { predictWindows } from '../train/predict.js';
import { targetRegion, type TargetPrep } from '../train/target.js';
import { scaleOutput } from '../train/calibrate.js';

/** The factors tried (as experiments:zero-shot-scale scans them): 0 is the baseline alone, 1 the generator's own size. */
export const ZERO_SHOT_SCALE_GRID: readonly number[] = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1];

export interface ZeroShotScaleChoice {
  /** The chosen factor: the smallest within one standard error of the lowest MAE (oneStandardErrorPick). */
  scale: number;
  /** The factor with the lowest pooled MAE (what the choice was before the one-standard-error rule). */
  lowest: number;
  grid: number[];
  /** MAE over the few-shot days (training and validation windows of every region, pooled) at each grid factor. */
  mae: number[];
}

/**
 * The factor for the zero-shot row, chosen on the regions' few-shot days: the smallest grid factor
 * whose MAE is within one standard error of the lowest (oneStandardErrorPick; closer to the baseline
 * when the days cannot tell the factors apart). `generated(r)` is region r's vector as the generator
 * returned it.
 */
export function chooseZeroShotScale(
  model: Forecaster,
  prep: TargetPrep,
  regions: readonly number[],
  generated: (region: number) => Float32Array,
  grid: readonly number[] = ZERO_SHOT_SCALE_GRID,
): ZeroShotScaleChoice {
  if (grid.some((s, j) => j > 0 && !(s > grid[j - 1]!))) throw new Error(`zero-shot scale grid must rise (the rule prefers its earlier, smaller factors), got ${grid.join(', ')}`);
  const pooled = grid.map(() => new MetricsAccumulator(OUT_STEPS));
  const byRegion: number[][] = [];
  for (const r of regions) {
    const { dataset } = targetRegion(prep, r);
    const v = generated(r);
    byRegion.push(
      grid.map((s, j) => {
        const params = scaleOutput(model, v, s);
        const own = new MetricsAccumulator(OUT_STEPS);
        for (const w of [dataset.train, dataset.val]) {
          if (w.count === 0) continue;
          const pred = predictWindows(model, params, dataset.adjacency, dataset.n, w, dataset.norm);
          pooled[j]!.add(pred, w.yRaw, w.yMask);
          own.add(pred, w.yRaw, w.yMask);
        }
        return own.result().maeMean;
      }),
    );
  }
  const mae = pooled.map((a) => a.result().maeMean);
  if (mae.every((m) => !Number.isFinite(m))) throw new Error(`${prep.city.id}: no observed value in the few-shot days to size the zero-shot correction on`);
  const { pick, lowest } = oneStandardErrorPick(mae, byRegion);
  return { scale: grid[pick]!, lowest: grid[lowest]!, grid: [...grid], mae };
}

/**
 * The one-standard-error rule over regions: `lowest` is the grid index with the lowest pooled MAE
 * (ties to the earlier); `pick` the first index (the grid rises: the smallest factor) whose per-region MAE exceeds
 * the lowest's by no more than one standard error of that paired difference across regions. Regions
 * are the independent units here (windows of one region overlap and share its days).
 *
 * Why: on nyc-bike-grid, K = 1, the day's MAE fell by 0.09% from factor 0 to 1 and the lowest chose
 * 1; on the test period the zero-shot row then lost 14% to the baseline. A difference that small is
 * noise the few days cannot resolve, and then the smaller correction is the safer bet. With fewer
 * than two regions there is no spread to judge by and `pick` is `lowest`.
 */
export function oneStandardErrorPick(pooled: readonly number[], byRegion: readonly (readonly number[])[]): { pick: number; lowest: number } {
  let lowest = 0;
  pooled.forEach((m, j) => {
    if (m < pooled[lowest]! || !Number.isFinite(pooled[lowest]!)) lowest = j;
  });
  for (let j = 0; j < lowest; j++) {
    if (!Number.isFinite(pooled[j]!)) continue;
    const d = byRegion.map((row) => row[j]! - row[lowest]!).filter(Number.isFinite);
    if (d.length < 2) break;
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (d.length - 1));
    if (mean <= sd / Math.sqrt(d.length)) return { pick: j, lowest };
  }
  return { pick: lowest, lowest };
}
