/**
 * Deterministic temporal prompt: each region's mean daily profile over the steps it is allowed to
 * see, z-scored per region (level and scale removed, so speed and flow cities share one space),
 * binned by time of day into a fixed number of bins (so 5-, 15- and 60-minute cities align), plus
 * its low-order Fourier coefficients (a compact, shift-aware summary) and the region's level and
 * spread relative to its city.
 *
 * Only readings inside `range` are read and masked readings are skipped, so a target's prompt uses
 * exactly its few-shot days.
 */
import type { City } from '../data/city.js';
import { DataError, stepsPerDay } from '../data/city.js';
import { timeOfDay } from '../data/windows.js';
import { checkRange, type StepRange } from '../data/range.js';

export interface ProfileOptions {
  /** Time-of-day bins of the profile (24 = hourly). */
  bins: number;
  /** Fourier harmonics kept (2 coefficients each). */
  harmonics: number;
  /** Value channel (e.g. 0 = inflow). */
  feature: number;
}

export const DEFAULT_PROFILE_OPTIONS: ProfileOptions = { bins: 24, harmonics: 4, feature: 0 };

/** A z-scored series whose std is below this is treated as constant (its profile is flat zero). */
const FLAT_STD = 1e-6;

/** Per-region statistics and profiles of one city over one range. */
export interface CityProfiles {
  N: number;
  bins: number;
  /** [N, bins] z-scored mean daily profile; empty bins interpolated circularly from observed ones. */
  profile: Float32Array;
  /** 1 if the region had at least one observed reading in the range. */
  present: Uint8Array;
  /** Observed readings per region. */
  count: Int32Array;
  /** Per-region mean and population std of its observed readings. */
  mean: Float64Array;
  std: Float64Array;
  /** City-wide mean/std over all observed readings in the range (as fitNormalizer computes them). */
  cityMean: number;
  cityStd: number;
}

export function checkFeature(city: City, feature: number): void {
  if (!Number.isInteger(feature) || feature < 0 || feature >= city.F) {
    throw new DataError(`city ${city.id}: prompt feature ${feature} does not exist (the city has ${city.F} feature(s))`);
  }
}

/**
 * Time-of-day bin of every step of the range (index s = t - range.start). A reading stands for the
 * interval [t, t + interval) and is binned by that interval's midpoint: then hourly, 15- and 5-minute
 * cities put the same clock time at the same place inside a bin (bin centres line up exactly).
 */
export function stepBins(city: City, range: StepRange, bins: number): Int32Array {
  if (!Number.isInteger(bins) || bins < 1) throw new DataError(`profile bins must be a positive integer, got ${bins}`);
  const half = city.intervalMinutes / (2 * 24 * 60);
  const out = new Int32Array(range.end - range.start);
  for (let t = range.start; t < range.end; t++) {
    const tod = (timeOfDay(city, t) + half) % 1;
    out[t - range.start] = Math.min(bins - 1, Math.floor(tod * bins));
  }
  return out;
}

/** Fill NaN bins of a circular profile by linear interpolation between the nearest observed bins. */
export function fillCircular(p: Float32Array | Float64Array, offset: number, bins: number): void {
  const observed: number[] = [];
  for (let b = 0; b < bins; b++) if (!Number.isNaN(p[offset + b]!)) observed.push(b);
  if (observed.length === 0) {
    for (let b = 0; b < bins; b++) p[offset + b] = 0;
    return;
  }
  if (observed.length === bins) return;
  for (let k = 0; k < observed.length; k++) {
    const a = observed[k]!;
    const b = observed[(k + 1) % observed.length]!;
    const gap = (b - a + bins) % bins || bins; // one observed bin: the gap wraps all the way round
    const va = p[offset + a]!;
    const vb = p[offset + b]!;
    for (let g = 1; g < gap; g++) p[offset + ((a + g) % bins)] = va + ((vb - va) * g) / gap;
  }
}

export function regionProfiles(city: City, range: StepRange, opts: ProfileOptions = DEFAULT_PROFILE_OPTIONS): CityProfiles {
  checkRange(city, range);
  checkFeature(city, opts.feature);
  const { N, F, series, mask } = city;
  const B = opts.bins;
  const f = opts.feature;
  const binOf = stepBins(city, range, B);

  // Float64 accumulation: counts reach 10^5+ readings per region on 5-minute cities.
  const sum = new Float64Array(N);
  const count = new Int32Array(N);
  const binSum = new Float64Array(N * B);
  const binCount = new Int32Array(N * B);
  for (let t = range.start; t < range.end; t++) {
    const b = binOf[t - range.start]!;
    for (let n = 0, i = t * N * F + f; n < N; n++, i += F) {
      if (mask && mask[i] === 0) continue;
      const v = series[i]!;
      sum[n] += v;
      count[n]++;
      binSum[n * B + b] += v;
      binCount[n * B + b]++;
    }
  }
  const mean = new Float64Array(N);
  for (let n = 0; n < N; n++) mean[n] = count[n]! > 0 ? sum[n]! / count[n]! : 0;
  const ss = new Float64Array(N);
  for (let t = range.start; t < range.end; t++) {
    for (let n = 0, i = t * N * F + f; n < N; n++, i += F) {
      if (mask && mask[i] === 0) continue;
      const d = series[i]! - mean[n]!;
      ss[n] += d * d;
    }
  }
  const std = new Float64Array(N);
  let citySum = 0;
  let cityCount = 0;
  for (let n = 0; n < N; n++) {
    std[n] = count[n]! > 0 ? Math.sqrt(ss[n]! / count[n]!) : 0;
    citySum += sum[n]!;
    cityCount += count[n]!;
  }
  const cityMean = cityCount > 0 ? citySum / cityCount : 0;
  // Total sum of squares = within-region + between-region parts (exact decomposition).
  let citySs = 0;
  for (let n = 0; n < N; n++) citySs += ss[n]! + count[n]! * (mean[n]! - cityMean) ** 2;
  const cityStd = cityCount > 0 ? Math.sqrt(citySs / cityCount) : 0;

  const profile = new Float32Array(N * B);
  const present = new Uint8Array(N);
  const row = new Float64Array(B);
  for (let n = 0; n < N; n++) {
    if (count[n] === 0) continue;
    present[n] = 1;
    const s = std[n]!;
    for (let b = 0; b < B; b++) {
      const c = binCount[n * B + b]!;
      row[b] = c === 0 ? NaN : s < FLAT_STD ? 0 : (binSum[n * B + b]! / c - mean[n]!) / s;
    }
    fillCircular(row, 0, B);
    for (let b = 0; b < B; b++) profile[n * B + b] = row[b]!;
  }
  return { N, bins: B, profile, present, count, mean, std, cityMean, cityStd };
}

/**
 * Coefficients (a_1, b_1, ..., a_H, b_H) of a circular profile on cos/sin(2 pi k (b + 1/2) / B):
 * a fixed basis, so the compressed prompt needs no training and means the same in every city.
 */
export function fourierCoefficients(p: ArrayLike<number>, offset: number, bins: number, harmonics: number): Float32Array {
  if (!Number.isInteger(harmonics) || harmonics < 0 || 2 * harmonics > bins) {
    throw new DataError(`profile harmonics must be an integer in [0, bins/2 = ${bins / 2}], got ${harmonics}`);
  }
  const out = new Float32Array(2 * harmonics);
  for (let k = 1; k <= harmonics; k++) {
    let a = 0;
    let s = 0;
    for (let b = 0; b < bins; b++) {
      const ang = (2 * Math.PI * k * (b + 0.5)) / bins;
      a += p[offset + b]! * Math.cos(ang);
      s += p[offset + b]! * Math.sin(ang);
    }
    out[2 * (k - 1)] = (2 / bins) * a;
    out[2 * (k - 1) + 1] = (2 / bins) * s;
  }
  return out;
}

/**
 * Region level and spread relative to its city: (mean - cityMean) / cityStd and
 * log((std + eps) / (cityStd + eps)) with eps = 0.1% of cityStd (bounded for all-zero regions).
 */
export function relativeLevel(p: CityProfiles, n: number): Float32Array {
  const cs = p.cityStd > 0 ? p.cityStd : 1;
  const eps = 1e-3 * cs;
  return Float32Array.of((p.mean[n]! - p.cityMean) / cs, Math.log((p.std[n]! + eps) / (cs + eps)));
}

/**
 * Mean of the profiles of `nodes` that are present (the caller passes a region's neighbours);
 * null when none is present.
 */
export function meanProfile(p: CityProfiles, nodes: ArrayLike<number>): Float32Array | null {
  const out = new Float32Array(p.bins);
  let k = 0;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (!p.present[n]) continue;
    for (let b = 0; b < p.bins; b++) out[b] += p.profile[n * p.bins + b]!;
    k++;
  }
  if (k === 0) return null;
  for (let b = 0; b < p.bins; b++) out[b] /= k;
  return out;
}

/** Day-long binned windows of every region, z-scored with the region's own range statistics. */
export interface DayBins {
  N: number;
  days: number;
  bins: number;
  /** [N, days, bins] mean z-value of the readings in each (day, bin); 0 where none observed. */
  values: Float32Array;
  /** [N, days, bins] 1 where the (day, bin) had an observed reading. */
  avail: Uint8Array;
}

/**
 * Cuts the range into whole days of stepsPerDay steps from range.start (bins follow each step's
 * time of day, so a range starting mid-day is still binned by clock time). A range shorter than a
 * day gives one partial day; a trailing partial day is dropped when there is at least one whole day.
 */
export function dailyBins(city: City, range: StepRange, profiles: CityProfiles, opts: ProfileOptions = DEFAULT_PROFILE_OPTIONS): DayBins {
  checkRange(city, range);
  checkFeature(city, opts.feature);
  const { N, F, series, mask } = city;
  const B = opts.bins;
  if (profiles.bins !== B || profiles.N !== N) throw new Error(`dailyBins: profiles were computed with other bins/nodes`);
  const spd = stepsPerDay(city);
  const len = range.end - range.start;
  const days = Math.max(1, Math.floor(len / spd));
  const usedEnd = len >= spd ? range.start + days * spd : range.end;
  const binOf = stepBins(city, range, B);
  const sums = new Float64Array(N * days * B);
  const counts = new Int32Array(N * days * B);
  const f = opts.feature;
  for (let t = range.start; t < usedEnd; t++) {
    const d = Math.floor((t - range.start) / spd);
    const b = binOf[t - range.start]!;
    for (let n = 0, i = t * N * F + f; n < N; n++, i += F) {
      if (mask && mask[i] === 0) continue;
      const k = (n * days + d) * B + b;
      sums[k] += series[i]!;
      counts[k]++;
    }
  }
  const values = new Float32Array(N * days * B);
  const avail = new Uint8Array(N * days * B);
  for (let n = 0; n < N; n++) {
    const m = profiles.mean[n]!;
    const s = profiles.std[n]!;
    for (let k = n * days * B; k < (n + 1) * days * B; k++) {
      if (counts[k] === 0) continue;
      avail[k] = 1;
      values[k] = s < FLAT_STD ? 0 : (sums[k]! / counts[k]! - m) / s;
    }
  }
  return { N, days, bins: B, values, avail };
}
