/**
 * The value encoding every forecaster sees: z-scored readings, optionally as deviations from a
 * seasonal baseline that the network then only has to correct.
 *
 * Why (measured on the four shared cities, K = 3 days, docs/protocol-impl.md):
 * - On hourly flow data (nyc-bike-grid, montevideo-bus) no STGCN trained on raw values beat the
 *   historical average, not even with the source city's 25 days of data; the daily cycle is most of
 *   the signal and 3 days are too few to learn it inside the network.
 * - On la-loop (5-minute speed) every model lost to repeating the last value (5.0 vs 3.4 MAE):
 *   STGCN's single graph convolution averages the centre with all of its neighbours (a centre of 14
 *   neighbours keeps 1/14 of its own signal), so a region model can hardly carry its own last value
 *   forward.
 *
 * Kinds:
 * - `none`: z-scores of the readings (the reference's encoding).
 * - `seasonal`: z-scores of the deviation from the node's time-of-day profile over the fit range,
 *   pooled over +-1 hour of neighbouring slots (a 3-day profile has 3 readings per slot; pooling
 *   over +-1 hour lowered the profile's own test MAE on all four cities).
 * - `seasonal-ar` (default): as `seasonal`, and the network's target is what remains after a damped
 *   persistence of the centre's last deviation, lambda_h * z(t_last), one lambda per horizon fitted
 *   by least squares over all nodes of the fit range (clamped to [0, 1]). This is the
 *   "autoregressive highway" of LSTNet (Lai et al. 2018) fitted in closed form: lambda is near 0.8
 *   at 5-minute speed data and near 0.1 on bus boardings, so one rule suits both.
 *
 * The network's output z maps to original units as z * std + yOffset (RegionWindows.yOffset): a
 * network that outputs zero forecasts the baseline itself. Everything is fitted only on the data the
 * model may see (PROTOCOL.md): the source's training part, or the target's K few-shot days.
 */
import type { City } from './city.js';
import { DataError, stepsPerDay } from './city.js';
import { fitNormalizer } from './normalize.js';
import { BASELINE_KINDS, STD_FLOOR, type BaselineKind, type Normalizer } from './encoding.js';
import { checkRange, type StepRange } from './range.js';
import { OUT_STEPS } from './task.js';
import { chooseSeasonalEncoding } from './encoding-select.js';
import { fitTimeProfile, timeSlot } from './time-profile.js';

/** Half width of the profile's pooling window (at least one slot either side when a day allows it). */
export const SEASONAL_HALF_WINDOW_MINUTES = 60;


export function checkBaselineKind(kind: string, where = 'baseline'): BaselineKind {
  if (!(BASELINE_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`${where}: unknown baseline "${kind}" (expected ${BASELINE_KINDS.join(', ')})`);
  }
  return kind as BaselineKind;
}

/** Slots pooled either side for a city's interval: floor(60 min / interval), at least 1, within one day. */
export function halfWindowSlots(city: Pick<City, 'intervalMinutes'>): number {
  const spd = stepsPerDay(city);
  const h = Math.max(1, Math.floor(SEASONAL_HALF_WINDOW_MINUTES / city.intervalMinutes));
  return Math.min(h, Math.floor((spd - 1) / 2));
}

/**
 * The normaliser (and baseline) of one channel over one range. With kind `none` this is
 * fitNormalizer; otherwise mean and std are those of the deviations from the profile.
 */
export function fitValueEncoding(city: City, range: StepRange, feature: number, kind: BaselineKind): Normalizer {
  checkBaselineKind(kind);
  if (kind === 'none') return fitNormalizer(city, range, feature);
  checkRange(city, range);
  // Pooling and persistence chosen by cross-validation over the range's days (data/encoding-select.ts);
  // a range of less than two days keeps the default pooling and in-sample persistence.
  const choice = chooseSeasonalEncoding(city, range, feature, kind === 'seasonal-ar');
  const profile = fitTimeProfile(city, range, feature, choice ? choice.halfWindowSlots : halfWindowSlots(city));
  const { N, F, series, mask } = city;
  const slots = profile.slotsPerDay;
  // Deviations of every step of the range, NaN where missing ([len, N], float64 for the sums).
  const len = range.end - range.start;
  const dev = new Float64Array(len * N);
  let sum = 0;
  let count = 0;
  for (let s = 0; s < len; s++) {
    const t = range.start + s;
    const row = timeSlot(city, t, slots) * N;
    for (let n = 0, i = t * N * F + feature; n < N; n++, i += F) {
      if (mask && mask[i] === 0) {
        dev[s * N + n] = NaN;
        continue;
      }
      const d = series[i]! - profile.table[row + n]!;
      dev[s * N + n] = d;
      sum += d;
      count++;
    }
  }
  if (count === 0) throw new DataError(`city ${city.id}: no observed values of feature ${feature} in steps [${range.start}, ${range.end}) to fit a baseline on`);
  const mean = sum / count;
  let ss = 0;
  for (let k = 0; k < dev.length; k++) if (!Number.isNaN(dev[k]!)) ss += (dev[k]! - mean) ** 2;
  const std = Math.max(Math.sqrt(ss / count), STD_FLOOR);
  const persistence = choice ? choice.persistence.slice() : new Array<number>(OUT_STEPS).fill(0);
  if (kind === 'seasonal-ar' && !choice) {
    for (let h = 1; h <= OUT_STEPS; h++) {
      let xy = 0;
      let xx = 0;
      for (let s = 0; s + h < len; s++) {
        for (let n = 0; n < N; n++) {
          const a = dev[s * N + n]!;
          const b = dev[(s + h) * N + n]!;
          if (Number.isNaN(a) || Number.isNaN(b)) continue;
          const za = (a - mean) / std;
          xy += za * ((b - mean) / std);
          xx += za * za;
        }
      }
      persistence[h - 1] = xx > 0 ? Math.min(1, Math.max(0, xy / xx)) : 0;
    }
  }
  return { feature, mean, std, baseline: { kind, cityId: city.id, profile, persistence } };
}

/** The encoding kind a normaliser implies. */
export function baselineKindOf(norm: Normalizer): BaselineKind {
  return norm.baseline?.kind ?? 'none';
}
