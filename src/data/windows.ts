/**
 * Sliding 12-in / 6-out windows of one region's subgraph inside one step range.
 *
 * Window start t: inputs are steps t..t+11 of every subgraph node, targets are steps t+12..t+17 of
 * the centre node. By default all 18 steps lie inside the range. `historyStart` lets the inputs
 * reach back before `range.start` (down to historyStart) while the targets stay inside the range:
 * short validation parts (e.g. the last 20% of 3 hourly few-shot days = 15 steps) hold no full
 * window, but their targets can still be scored from the preceding allowed history.
 */
import type { City } from './city.js';
import { DataError } from './city.js';
import { checkRange, type StepRange } from './range.js';
import type { Normalizer } from './encoding.js';
import { IN_FEATURES, IN_STEPS, OUT_STEPS } from './task.js';
import type { RegionSubgraph } from './subgraph.js';
import { timeOfDay, timeSlot } from './time-profile.js';

/** Re-exported: the clock rule lives with the profiles (data/time-profile.ts). */
export { timeOfDay };

export interface RegionWindows {
  count: number;
  n: number;
  /**
   * [count, n, 12, 2]: (normalised value, time of day in [0,1)); missing inputs = 0 (the mean). With a
   * seasonal baseline the value is the normalised deviation from the node's profile.
   */
  x: Float32Array;
  /**
   * [count, 6] what the network must output for the centre node (0 where missing): its normalised
   * value, or with a baseline the normalised remainder after the baseline forecast.
   */
  y: Float32Array;
  /**
   * [count, 6] original units: a network output z means the forecast z * norm.std + yOffset. Without a
   * baseline this is norm.mean everywhere; with one it is the baseline's own forecast.
   */
  yOffset: Float32Array;
  /** [count, 6] 1 = observed. */
  yMask: Uint8Array;
  /** [count, 6] original units (for metrics). */
  yRaw: Float32Array;
  /** Window start step t: inputs t..t+11, targets t+12..t+17. */
  starts: Int32Array;
}

export interface WindowOptions {
  /** Step between consecutive window starts (default 1). */
  stride?: number;
  /**
   * Earliest step the inputs may read (default range.start: all 18 steps inside the range). With
   * historyStart < range.start, windows whose 6 targets lie in the range and whose inputs start at or
   * after historyStart are included.
   */
  historyStart?: number;
}

/** The window start steps for a range (exported so callers can count windows without building them). */
export function windowStarts(range: StepRange, opts: WindowOptions = {}): Int32Array {
  const stride = opts.stride ?? 1;
  if (!Number.isInteger(stride) || stride < 1) throw new DataError(`window stride must be a positive integer, got ${stride}`);
  const history = opts.historyStart ?? range.start;
  if (!Number.isInteger(history) || history < 0 || history > range.start) {
    throw new DataError(`historyStart ${history} must be an integer in [0, ${range.start}] (range starts at ${range.start})`);
  }
  const first = Math.max(history, range.start - IN_STEPS);
  const last = range.end - IN_STEPS - OUT_STEPS; // inclusive
  if (last < first) return new Int32Array(0);
  const count = Math.floor((last - first) / stride) + 1;
  const starts = new Int32Array(count);
  for (let k = 0; k < count; k++) starts[k] = first + k * stride;
  return starts;
}

export function regionWindows(
  city: City,
  sub: RegionSubgraph,
  range: StepRange,
  norm: Normalizer,
  opts: WindowOptions = {},
): RegionWindows {
  checkRange(city, range);
  const { N, F, series, mask } = city;
  const f = norm.feature;
  if (!Number.isInteger(f) || f < 0 || f >= F) throw new DataError(`city ${city.id}: normaliser feature ${f} does not exist (F = ${F})`);
  for (const node of sub.nodes) {
    if (!Number.isInteger(node) || node < 0 || node >= N) throw new DataError(`city ${city.id}: subgraph node ${node} does not exist (N = ${N})`);
  }
  const starts = windowStarts(range, opts);
  const count = starts.length;
  const n = sub.n;
  const x = new Float32Array(count * n * IN_STEPS * IN_FEATURES);
  const y = new Float32Array(count * OUT_STEPS);
  const yMask = new Uint8Array(count * OUT_STEPS);
  const yRaw = new Float32Array(count * OUT_STEPS);
  const yOffset = new Float32Array(count * OUT_STEPS);
  if (count === 0) return { count, n, x, y, yMask, yRaw, yOffset, starts };
  const seasonal = norm.baseline;
  if (seasonal && (seasonal.cityId !== city.id || seasonal.profile.N !== N)) {
    throw new DataError(`city ${city.id}: the normaliser's baseline was fitted on city ${seasonal.cityId} (N = ${seasonal.profile.N})`);
  }

  // Normalise every needed (step, node) value once: windows overlap 17/18 steps at stride 1.
  const t0 = starts[0]!;
  const t1 = starts[count - 1]! + IN_STEPS + OUT_STEPS; // exclusive
  const span = t1 - t0;
  const mean = norm.mean;
  const inv = 1 / norm.std;
  const z = new Float32Array(span * n); // [span, n]
  // With a baseline: the profile row of every step (slot * N), and its value at the centre.
  const profileRow = new Int32Array(span);
  if (seasonal) for (let s = 0; s < span; s++) profileRow[s] = timeSlot(city, t0 + s, seasonal.profile.slotsPerDay) * N;
  for (let s = 0; s < span; s++) {
    const rowBase = (t0 + s) * N;
    for (let a = 0; a < n; a++) {
      const node = sub.nodes[a]!;
      const i = (rowBase + node) * F + f;
      const level = seasonal ? seasonal.profile.table[profileRow[s]! + node]! : 0;
      z[s * n + a] = mask && mask[i] === 0 ? 0 : (series[i]! - level - mean) * inv;
    }
  }
  const tod = new Float32Array(span);
  for (let s = 0; s < span; s++) tod[s] = timeOfDay(city, t0 + s);

  const perNode = IN_STEPS * IN_FEATURES;
  const perWindow = n * perNode;
  const centre = sub.nodes[0]!;
  for (let w = 0; w < count; w++) {
    const s0 = starts[w]! - t0;
    const base = w * perWindow;
    for (let a = 0; a < n; a++) {
      let o = base + a * perNode;
      for (let s = s0; s < s0 + IN_STEPS; s++) {
        x[o++] = z[s * n + a]!;
        x[o++] = tod[s]!;
      }
    }
    // The centre's last input (0 if missing): the persistence term's argument.
    const last = z[(s0 + IN_STEPS - 1) * n]!;
    for (let h = 0; h < OUT_STEPS; h++) {
      const t = starts[w]! + IN_STEPS + h;
      const i = (t * N + centre) * F + f;
      const k = w * OUT_STEPS + h;
      const observed = !mask || mask[i] !== 0;
      // Baseline forecast in normalised deviation units, and in original units.
      const b = seasonal ? seasonal.persistence[h]! * last : 0;
      yOffset[k] = seasonal ? mean + seasonal.profile.table[profileRow[t - t0]! + centre]! + b * norm.std : mean;
      yMask[k] = observed ? 1 : 0;
      yRaw[k] = series[i]!;
      y[k] = observed ? z[(t - t0) * n]! - b : 0;
    }
  }
  return { count, n, x, y, yMask, yRaw, yOffset, starts };
}
