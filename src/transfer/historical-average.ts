/**
 * Historical average baseline (PROTOCOL.md, method 1): the forecast for a step is the mean of the
 * fit period's observed values of the same node at the same time of day. Used with the source split
 * (fit on train, score the validation windows: "does a trained region model beat HA?") and on a
 * target (fit on the few-shot days, score the test windows).
 */
import type { City } from '../data/city.js';
import { DataError, stepsPerDay } from '../data/city.js';
import { checkRange } from '../data/normalize.js';
import type { StepRange } from '../data/splits.js';
import { IN_STEPS, OUT_STEPS, timeOfDay } from '../data/windows.js';

export interface HistoricalAverage {
  cityId: string;
  feature: number;
  slotsPerDay: number;
  N: number;
  fit: StepRange;
  /** [slotsPerDay, N] mean per time-of-day slot and node, original units (fallbacks filled in). */
  table: Float64Array;
}

/** Time-of-day slot of step t, consistent with the time-of-day input feature of the windows. */
export function timeSlot(city: City, t: number, slotsPerDay = stepsPerDay(city)): number {
  return Math.round(timeOfDay(city, t) * slotsPerDay) % slotsPerDay;
}

/**
 * Fit on the observed values of `feature` in `fit`. A (slot, node) never observed in the fit
 * period falls back to the node's mean over the period, then to the city's mean.
 */
export function fitHistoricalAverage(city: City, fit: StepRange, feature = 0): HistoricalAverage {
  checkRange(city, fit);
  if (!Number.isInteger(feature) || feature < 0 || feature >= city.F) {
    throw new DataError(`city ${city.id}: feature ${feature} does not exist (the city has ${city.F} feature(s))`);
  }
  const { N, F, series, mask } = city;
  const slots = stepsPerDay(city);
  const sum = new Float64Array(slots * N);
  const cnt = new Float64Array(slots * N);
  const nodeSum = new Float64Array(N);
  const nodeCnt = new Float64Array(N);
  let allSum = 0;
  let allCnt = 0;
  for (let t = fit.start; t < fit.end; t++) {
    const row = timeSlot(city, t, slots) * N;
    for (let n = 0, i = t * N * F + feature; n < N; n++, i += F) {
      if (mask && mask[i] === 0) continue;
      const v = series[i]!;
      sum[row + n]! += v;
      cnt[row + n]!++;
      nodeSum[n]! += v;
      nodeCnt[n]!++;
      allSum += v;
      allCnt++;
    }
  }
  if (allCnt === 0) {
    throw new DataError(`city ${city.id}: no observed values of feature ${feature} in steps [${fit.start}, ${fit.end}) to fit the historical average`);
  }
  const cityMean = allSum / allCnt;
  const table = new Float64Array(slots * N);
  for (let s = 0; s < slots; s++) {
    for (let n = 0; n < N; n++) {
      const k = s * N + n;
      table[k] = cnt[k]! > 0 ? sum[k]! / cnt[k]! : nodeCnt[n]! > 0 ? nodeSum[n]! / nodeCnt[n]! : cityMean;
    }
  }
  return { cityId: city.id, feature, slotsPerDay: slots, N, fit: { ...fit }, table };
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
