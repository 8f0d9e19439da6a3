/**
 * Choosing the seasonal encoding's two knobs on the data it is fitted on, by cross-validation over
 * days (PROTOCOL.md: anything fitted for a target comes from data it may see):
 *
 * - the profile's pooling width (half window in slots, from the candidates in minutes below): a
 *   3-day profile has 3 readings per slot, so pooling neighbouring slots lowers its noise, but on a
 *   peaky series (a metro's hourly flow, a 10-minute flow) it flattens the peaks;
 * - the persistence of the last deviation, lambda_h per horizon, fitted by least squares on
 *   CROSS-FITTED deviations (each day's deviation from a profile fitted on the other days): the
 *   in-sample deviations of a K-day profile are shrunk towards it (each day pulls its own mean), which
 *   misjudges how much of a deviation persists.
 *
 * Folds are whole days (day d of the range is in fold d mod min(days, 10)). The score is the MAE of
 * the baseline's 1..6-step forecasts on every held-out fold. Pooling width 0 with no persistence is
 * the historical average itself, so on the fit data the chosen baseline never does worse than it.
 *
 * Measured on the shared cities (K = 3, npm run experiments:baselines): see docs/protocol-impl.md.
 */
import type { City } from './city.js';
import { stepsPerDay } from './city.js';
import type { StepRange } from './range.js';
import { OUT_STEPS } from './task.js';
import { timeSlot } from './time-profile.js';

/** Candidate pooling half-widths in minutes either side (0 = the unpooled profile). */
export const POOLING_CANDIDATE_MINUTES = [0, 15, 30, 60, 120] as const;
const MAX_FOLDS = 10;

export interface EncodingChoice {
  halfWindowSlots: number;
  /** lambda_1..6 in [0, 1], fitted on cross-fitted deviations (zeros for the profile-only encoding). */
  persistence: number[];
  /** Held-out MAE of each candidate, by half window in slots (original units). */
  scores: Record<number, number>;
  folds: number;
}

/** The distinct candidate half-widths in slots that fit the city's day (2h + 1 <= slots per day). */
export function poolingCandidates(city: Pick<City, 'intervalMinutes' | 'day'>): number[] {
  const spd = stepsPerDay(city);
  const slots = POOLING_CANDIDATE_MINUTES.map((m) => Math.floor(m / city.intervalMinutes)).filter((h) => 2 * h + 1 <= spd);
  return [...new Set(slots)].sort((a, b) => a - b);
}

/**
 * The cross-validated pooling and persistence for `range`, or null when it holds fewer than two
 * whole days (nothing to hold out; the caller keeps its default).
 */
export function chooseSeasonalEncoding(city: City, range: StepRange, feature: number, persistence: boolean): EncodingChoice | null {
  const spd = stepsPerDay(city);
  const len = range.end - range.start;
  const days = Math.floor(len / spd);
  if (days < 2) return null;
  const F = Math.min(days, MAX_FOLDS);
  const { N, series, mask } = city;
  const CF = city.F;
  // The last partial day (if any) joins the last whole day's fold.
  const foldOf = (s: number) => Math.min(Math.floor(s / spd), days - 1) % F;
  const slotOf = new Int32Array(len);
  for (let s = 0; s < len; s++) slotOf[s] = timeSlot(city, range.start + s, spd);
  const value = (s: number, n: number) => {
    const i = ((range.start + s) * N + n) * CF + feature;
    return mask && mask[i] === 0 ? NaN : series[i]!;
  };

  // Sums per fold, slot and node.
  const sum = new Float64Array(F * spd * N);
  const cnt = new Float64Array(F * spd * N);
  for (let s = 0; s < len; s++) {
    const base = (foldOf(s) * spd + slotOf[s]!) * N;
    for (let n = 0; n < N; n++) {
      const v = value(s, n);
      if (Number.isNaN(v)) continue;
      sum[base + n] += v;
      cnt[base + n]++;
    }
  }
  const scores: Record<number, number> = {};
  const lambdas: Record<number, number[]> = {};
  for (const h of poolingCandidates(city)) {
    const profiles = heldOutProfiles(sum, cnt, F, spd, N, h, city.day !== undefined);
    const P = (g: number, slot: number, n: number) => profiles[(g * spd + slot) * N + n]!;
    // Cross-fitted deviations: each step against the profile fitted without its own fold.
    const dev = new Float64Array(len * N);
    let mu = 0;
    let m = 0;
    for (let s = 0; s < len; s++) {
      for (let n = 0; n < N; n++) {
        const v = value(s, n);
        dev[s * N + n] = Number.isNaN(v) ? NaN : v - P(foldOf(s), slotOf[s]!, n);
        if (!Number.isNaN(v)) {
          mu += dev[s * N + n]!;
          m++;
        }
      }
    }
    if (m === 0) return null;
    mu /= m;
    const lambda = new Array<number>(OUT_STEPS).fill(0);
    lambdas[h] = lambda;
    if (persistence) {
      for (let k = 1; k <= OUT_STEPS; k++) {
        let xy = 0;
        let xx = 0;
        for (let s = 0; s + k < len; s++) {
          for (let n = 0; n < N; n++) {
            const a = dev[s * N + n]! - mu;
            const b = dev[(s + k) * N + n]! - mu;
            if (Number.isNaN(a) || Number.isNaN(b)) continue;
            xy += a * b;
            xx += a * a;
          }
        }
        lambda[k - 1] = xx > 0 ? Math.min(1, Math.max(0, xy / xx)) : 0;
      }
    }
    // Held-out error of the forecasts from every step t: the target's fold is held out, for the
    // profile at the target and at t alike (as when forecasting a day from the others). Each horizon's
    // persistence is damped by the factor (of DAMPING) with the lowest held-out error: a lambda fitted
    // by least squares can still add error at long horizons, where MAE, not MSE, is scored.
    const err = DAMPING.map(() => new Float64Array(OUT_STEPS));
    let count = 0;
    for (let s = 0; s + 1 < len; s++) {
      for (let k = 1; k <= OUT_STEPS && s + k < len; k++) {
        const g = foldOf(s + k);
        for (let n = 0; n < N; n++) {
          const y = value(s + k, n);
          if (Number.isNaN(y)) continue;
          const x = value(s, n);
          const last = Number.isNaN(x) ? 0 : x - P(g, slotOf[s]!, n) - mu;
          const base = y - P(g, slotOf[s + k]!, n) - mu;
          DAMPING.forEach((c, j) => (err[j]![k - 1]! += Math.abs(base - c * lambda[k - 1]! * last)));
          if (k === 1) count++;
        }
      }
    }
    let total = 0;
    for (let k = 0; k < OUT_STEPS; k++) {
      let j = 0;
      for (let i = 1; i < DAMPING.length; i++) if (err[i]![k]! < err[j]![k]!) j = i;
      lambda[k] = DAMPING[j]! * lambda[k]!;
      total += err[j]![k]!;
    }
    scores[h] = count > 0 ? total / (count * OUT_STEPS) : Infinity;
  }
  const cvBest = Number(Object.keys(scores).reduce((a, b) => (scores[Number(b)]! < scores[Number(a)]! ? b : a)));
  const h = matchedPooling(cvBest, poolingCandidates(city), F);
  return { halfWindowSlots: h, persistence: lambdas[h]!, scores, folds: F };
}

/** Damping factors tried per horizon on the least-squares persistence (0 = none, 1 = as fitted). */
const DAMPING = [0, 0.5, 1] as const;

/**
 * The pooling for the profile fitted on ALL folds, from the one cross-validation chose for profiles
 * fitted without one fold: those average (F - 1) / F as many days, so the validation prefers wider
 * pooling than the full data need (with K = 3 days, two against three). Keep the number of readings
 * behind each pooled value: the candidate h whose (2h + 1) is nearest, on a log scale, to
 * (2h_cv + 1) (F - 1) / F. Measured on the eight cities at K = 3 and 7 (test MAE of the profile
 * alone): the plain choice was the test-best pooling in 12 of 15 cases and lost to the unpooled
 * profile (the historical average) on nyc-bike-grid at K = 3; matched, it picks the test-best or a
 * width within 0.5% of it everywhere (docs/protocol-impl.md).
 */
function matchedPooling(cvBest: number, candidates: number[], folds: number): number {
  const target = Math.log((2 * cvBest + 1) * ((folds - 1) / folds));
  return candidates.reduce((a, b) => (Math.abs(Math.log(2 * b + 1) - target) < Math.abs(Math.log(2 * a + 1) - target) ? b : a));
}

/**
 * [F, slots, N] profiles, each fitted without one fold, pooled over +-h slots (circular around the
 * clock, not across a daily window's overnight gap). Empty cells fall back to the node's mean without
 * the fold, then to the city's.
 */
function heldOutProfiles(sum: Float64Array, cnt: Float64Array, F: number, spd: number, N: number, h: number, window: boolean): Float64Array {
  const total = new Float64Array(spd * N);
  const totalCnt = new Float64Array(spd * N);
  for (let g = 0; g < F; g++) {
    for (let k = 0; k < spd * N; k++) {
      total[k] += sum[g * spd * N + k]!;
      totalCnt[k] += cnt[g * spd * N + k]!;
    }
  }
  const out = new Float64Array(F * spd * N);
  for (let g = 0; g < F; g++) {
    const ex = (slot: number, n: number) => [total[slot * N + n]! - sum[(g * spd + slot) * N + n]!, totalCnt[slot * N + n]! - cnt[(g * spd + slot) * N + n]!] as const;
    let cityS = 0;
    let cityC = 0;
    const nodeS = new Float64Array(N);
    const nodeC = new Float64Array(N);
    for (let slot = 0; slot < spd; slot++) {
      for (let n = 0; n < N; n++) {
        const [s, c] = ex(slot, n);
        nodeS[n] += s;
        nodeC[n] += c;
        cityS += s;
        cityC += c;
      }
    }
    for (let slot = 0; slot < spd; slot++) {
      for (let n = 0; n < N; n++) {
        let ws = 0;
        let wc = 0;
        for (let d = -h; d <= h; d++) {
          if (window && (slot + d < 0 || slot + d >= spd)) continue;
          const [s, c] = ex((((slot + d) % spd) + spd) % spd, n);
          ws += s;
          wc += c;
        }
        out[(g * spd + slot) * N + n] = wc > 0 ? ws / wc : nodeC[n]! > 0 ? nodeS[n]! / nodeC[n]! : cityC > 0 ? cityS / cityC : 0;
      }
    }
  }
  return out;
}
