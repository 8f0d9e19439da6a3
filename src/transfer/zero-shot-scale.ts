/**
 * The size of the generated correction on a new city, chosen on that city's few-shot days
 * (sampling.zeroShotScale = few-shot). The source cities' corrections point the right way on a new
 * city but are several times too large there, and by how much differs by city: one factor for the
 * whole city, the grid value with the lowest MAE over every scored region's K days, sizes it without
 * training anything. A zero-shot model fits nothing on those days (they only built its prompt), so all
 * of them judge it, not just the validation part fine-tuning holds out; one number for hundreds of
 * regions cannot overfit them the way a per-region fit does (GPD calibrated).
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
  /** The chosen factor. */
  scale: number;
  grid: number[];
  /** MAE over the few-shot days (training and validation windows of every region, pooled) at each grid factor. */
  mae: number[];
  /** Each region's own few-shot MAE at each grid factor ([region][factor], in `regions` order): how much the regions agree. */
  byRegion: number[][];
}

/**
 * The grid factor whose scaled vectors have the lowest MAE over the regions' few-shot days (ties go
 * to the smaller factor: closer to the baseline). `generated(r)` is region r's vector as the
 * generator returned it.
 */
export function chooseZeroShotScale(
  model: Forecaster,
  prep: TargetPrep,
  regions: readonly number[],
  generated: (region: number) => Float32Array,
  grid: readonly number[] = ZERO_SHOT_SCALE_GRID,
): ZeroShotScaleChoice {
  const accs = grid.map(() => new MetricsAccumulator(OUT_STEPS));
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
          accs[j]!.add(pred, w.yRaw, w.yMask);
          own.add(pred, w.yRaw, w.yMask);
        }
        return own.result().maeMean;
      }),
    );
  }
  const mae = accs.map((a) => a.result().maeMean);
  if (mae.every((m) => !Number.isFinite(m))) throw new Error(`${prep.city.id}: no observed value in the few-shot days to size the zero-shot correction on`);
  return { scale: grid[lowestIndex(mae)]!, grid: [...grid], mae, byRegion };
}

/** The index of the lowest finite MAE (ties to the earlier: on a rising grid, the smaller factor). */
export function lowestIndex(mae: readonly number[]): number {
  let best = 0;
  mae.forEach((m, j) => {
    if (m < mae[best]! || !Number.isFinite(mae[best]!)) best = j;
  });
  return best;
}
