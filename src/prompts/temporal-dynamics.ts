/**
 * The "dynamics" temporal prompt: what a region's forecaster has to do, computable from K days.
 *
 * Under a seasonal encoding the network forecasts the deviation from a daily profile, so a
 * profile-shaped prompt (temporal-profile.ts) says little about its parameters. This describes the
 * deviation itself, per region:
 *   - its autocorrelation at lags 1..12 (how much of a deviation persists, over the input window);
 *   - its cross-correlation with the mean deviation of the region's neighbours at lags 0..2 (how much
 *     the subgraph tells about the centre, the neighbour leading);
 *   - log(std of the deviation / mean level) and the share of the variance the profile leaves.
 * Deviations are taken against a profile fitted without the step's own day (leave-one-day-out, or
 * the range's own profile when it holds one day), so that 3 days and 25 days give the same expected
 * values rather than in-sample residuals that shrink with fewer days.
 */
import type { City } from '../data/city.js';
import { stepsPerDay } from '../data/city.js';
import type { StepRange } from '../data/range.js';
import { timeSlot } from '../data/time-profile.js';

export const DYNAMICS_LAGS = 12;
export const DYNAMICS_CROSS_LAGS = 3;
export const DYNAMICS_DIM = DYNAMICS_LAGS + DYNAMICS_CROSS_LAGS + 2;
export const DYNAMICS_NAMES = [
  ...Array.from({ length: DYNAMICS_LAGS }, (_, k) => `acf${k + 1}`),
  ...Array.from({ length: DYNAMICS_CROSS_LAGS }, (_, k) => `xcorr_nbr_lag${k}`),
  'log_rel_spread',
  'residual_share',
];

/** [len, N] deviations from the leave-one-day-out time-of-day profile (NaN where missing). */
function crossFittedDeviations(city: City, range: StepRange, feature: number): { dev: Float64Array; level: Float64Array; total: Float64Array } {
  const { N, F, series, mask } = city;
  const spd = stepsPerDay(city);
  const len = range.end - range.start;
  const days = Math.max(1, Math.ceil(len / spd));
  const sum = new Float64Array(days * spd * N);
  const cnt = new Float64Array(days * spd * N);
  const allS = new Float64Array(spd * N);
  const allC = new Float64Array(spd * N);
  const slot = new Int32Array(len);
  const val = (s: number, n: number) => {
    const i = ((range.start + s) * N + n) * F + feature;
    return mask && mask[i] === 0 ? NaN : series[i]!;
  };
  for (let s = 0; s < len; s++) {
    slot[s] = timeSlot(city, range.start + s, spd);
    const d = Math.floor(s / spd);
    for (let n = 0; n < N; n++) {
      const v = val(s, n);
      if (Number.isNaN(v)) continue;
      sum[(d * spd + slot[s]!) * N + n] += v;
      cnt[(d * spd + slot[s]!) * N + n]++;
      allS[slot[s]! * N + n] += v;
      allC[slot[s]! * N + n]++;
    }
  }
  const dev = new Float64Array(len * N);
  const level = new Float64Array(N);
  const total = new Float64Array(N);
  const levelC = new Float64Array(N);
  for (let s = 0; s < len; s++) {
    const d = Math.floor(s / spd);
    for (let n = 0; n < N; n++) {
      const v = val(s, n);
      const k = slot[s]! * N + n;
      const c = days > 1 ? allC[k]! - cnt[(d * spd + slot[s]!) * N + n]! : allC[k]!;
      const p = days > 1 ? (allS[k]! - sum[(d * spd + slot[s]!) * N + n]!) / c : allS[k]! / c;
      dev[s * N + n] = Number.isNaN(v) || !(c > 0) ? NaN : v - p;
      if (!Number.isNaN(v)) {
        level[n] += v;
        levelC[n]++;
      }
    }
  }
  for (let n = 0; n < N; n++) level[n] = levelC[n]! > 0 ? level[n]! / levelC[n]! : NaN;
  // Total variance of the readings per node (for the share the profile leaves).
  for (let s = 0; s < len; s++) for (let n = 0; n < N; n++) {
    const v = val(s, n);
    if (!Number.isNaN(v)) total[n] += (v - level[n]!) ** 2 / levelC[n]!;
  }
  return { dev, level, total };
}

/** Pearson correlation of a[s] and b[s + lag] over the steps where both are observed; NaN with fewer than 3 pairs. */
function corr(a: (s: number) => number, b: (s: number) => number, len: number, lag: number): number {
  let n = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let s = 0; s + lag < len; s++) {
    const x = a(s);
    const y = b(s + lag);
    if (Number.isNaN(x) || Number.isNaN(y)) continue;
    n++;
    sa += x;
    sb += y;
    saa += x * x;
    sbb += y * y;
    sab += x * y;
  }
  if (n < 3) return NaN;
  const cov = sab / n - (sa / n) * (sb / n);
  const va = saa / n - (sa / n) ** 2;
  const vb = sbb / n - (sb / n) ** 2;
  return va > 1e-12 && vb > 1e-12 ? cov / Math.sqrt(va * vb) : 0;
}

/** [N, DYNAMICS_DIM] dynamics of every region over `range`, and which regions have them. */
export function dynamicsFeatures(city: City, range: StepRange, feature: number, nbrs: Int32Array[]): { values: Float32Array; present: Uint8Array } {
  const N = city.N;
  const len = range.end - range.start;
  const { dev, level, total } = crossFittedDeviations(city, range, feature);
  const values = new Float32Array(N * DYNAMICS_DIM);
  const present = new Uint8Array(N);
  for (let n = 0; n < N; n++) {
    const own = (s: number) => dev[s * N + n]!;
    const nb = nbrs[n]!;
    const nbr = (s: number) => {
      let x = 0;
      let c = 0;
      for (const m of nb) {
        const v = dev[s * N + m]!;
        if (!Number.isNaN(v)) {
          x += v;
          c++;
        }
      }
      return c > 0 ? x / c : NaN;
    };
    const out: number[] = [];
    for (let k = 1; k <= DYNAMICS_LAGS; k++) out.push(corr(own, own, len, k));
    for (let k = 0; k < DYNAMICS_CROSS_LAGS; k++) out.push(nb.length > 0 ? corr(nbr, own, len, k) : 0);
    let ss = 0;
    let c = 0;
    for (let s = 0; s < len; s++) {
      const v = own(s);
      if (!Number.isNaN(v)) {
        ss += v * v;
        c++;
      }
    }
    const sd = c > 0 ? Math.sqrt(ss / c) : NaN;
    out.push(Math.log((sd + 1e-6) / (Math.abs(level[n]!) + 1e-6)));
    out.push(total[n]! > 0 ? Math.min(1, (sd * sd) / total[n]!) : 0);
    if (out.some((v) => Number.isNaN(v))) continue;
    present[n] = 1;
    values.set(out, n * DYNAMICS_DIM);
  }
  return { values, present };
}
