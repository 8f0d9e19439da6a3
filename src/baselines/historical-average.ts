/**
 * Historical average baseline (PROTOCOL.md, method 1): the forecast for a step is the mean of the
 * fit period's observed values of the same node at the same time of day. Used with the source split
 * (fit on train, score the validation windows: "does a trained region model beat HA?") and on a
 * target (fit on the few-shot days, score the test windows).
 */
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';
import { fitTimeProfile, timeSlot } from '../data/time-profile.js';
import type { StepRange } from '../data/range.js';
import { IN_STEPS, OUT_STEPS } from '../data/task.js';
import type { RegionWindows } from '../data/windows.js';

/** Re-exported: the slot rule lives with the profiles (data/time-profile.ts). */
export { timeSlot };

export interface HistoricalAverage {
  cityId: string;
  feature: number;
  slotsPerDay: number;
  N: number;
  fit: StepRange;
  /** [slotsPerDay, N] mean per time-of-day slot and node, original units (fallbacks filled in). */
  table: Float64Array;
}

/**
 * Fit on the observed values of `feature` in `fit`. A (slot, node) never observed in the fit
 * period falls back to the node's mean over the period, then to the city's mean.
 */
export function fitHistoricalAverage(city: City, fit: StepRange, feature = 0): HistoricalAverage {
  const p = fitTimeProfile(city, fit, feature, 0);
  return { cityId: city.id, feature, slotsPerDay: p.slotsPerDay, N: p.N, fit: { ...fit }, table: p.table };
}

/**
 * Forecasts [starts.length, outSteps] (original units) for `node`, for windows starting at `starts`
 * (targets at start + 12 + h, the windows.ts convention).
 */
export function historicalAverageForecast(
  ha: HistoricalAverage,
  city: City,
  node: number,
  starts: Int32Array,
  outSteps = OUT_STEPS,
): Float32Array {
  if (city.id !== ha.cityId || city.N !== ha.N) throw new Error(`historical average was fitted on city ${ha.cityId}, not ${city.id}`);
  if (!Number.isInteger(node) || node < 0 || node >= ha.N) throw new DataError(`city ${city.id}: node ${node} does not exist (N = ${ha.N})`);
  const out = new Float32Array(starts.length * outSteps);
  for (let w = 0; w < starts.length; w++) {
    for (let h = 0; h < outSteps; h++) {
      const t = starts[w]! + IN_STEPS + h;
      if (t >= city.T) throw new DataError(`city ${city.id}: window starting at step ${starts[w]} needs step ${t}, beyond T = ${city.T}`);
      out[w * outSteps + h] = ha.table[timeSlot(city, t, ha.slotsPerDay) * ha.N + node]!;
    }
  }
  return out;
}

/** The historical average for a region's windows, [count, 6] in original units (scored like every model). */
export function historicalAveragePredict(ha: HistoricalAverage, city: City, region: number, w: RegionWindows): Float32Array {
  return historicalAverageForecast(ha, city, region, w.starts);
}
