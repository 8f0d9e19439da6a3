/**
 * The in-memory model of a city: everything downstream (windows, prompts, banks) reads only this.
 */
export interface NodeAttributes {
  /** [N, 2] planar or geographic coordinates (x/lon, y/lat); `coordKind` says which. */
  coords?: Float32Array;
  coordKind?: 'latlon' | 'planar' | 'grid';
  /** Named per-node embedding matrices, e.g. { kg: [N x 20], poi: [N x 20], node2vec: [N x 64] }, row-major. */
  embeddings?: Record<string, { dim: number; data: Float32Array }>;
  /** Per-node categorical attribute (e.g. POI class), integers. */
  categories?: Record<string, Int32Array>;
}

/**
 * The part of each day a series covers, when it is not the whole day (a metro's service hours): one
 * reading every interval from `startMinutes` after midnight, `steps` readings a day, and the next
 * reading is the next day's first. Windows run across the overnight gap (the time-of-day feature
 * carries each step's clock time); profiles, days and splits count `steps` steps a day.
 */
export interface DailyWindow {
  /** Clock time of a day's first reading, in minutes after midnight. */
  startMinutes: number;
  /** Readings per day. */
  steps: number;
}

export interface City {
  id: string;
  /** Sampling interval in minutes. */
  intervalMinutes: number;
  /** Present when the series covers only part of each day (see DailyWindow); absent = around the clock. */
  day?: DailyWindow;
  nodeIds: string[];
  /** Number of time steps. */
  T: number;
  /** Number of nodes. */
  N: number;
  /** Number of features per node and step (e.g. 2 for bike in/out flow). */
  F: number;
  /** Series, row-major [T, N, F]. Missing readings hold 0 and are flagged in `mask`. */
  series: Float32Array;
  /** Optional observation mask [T, N, F]: 1 observed, 0 missing. Absent = all observed. */
  mask?: Uint8Array;
  /** Optional timestamps (ms since epoch, UTC) per step. */
  timestamps?: Float64Array;
  /** Weighted adjacency, row-major [N, N] (adj[i*N+j] = weight of edge i -> j). */
  adjacency: Float32Array;
  attributes: NodeAttributes;
  /** Units of the series (e.g. "mph", "count"). */
  units?: string;
  /** Names of the F features (e.g. ["inflow", "outflow"]). */
  featureNames?: string[];
  /** Where it came from (file paths, generator settings) for reports and errors. */
  source?: string;
  /** A city read from a manifest: its path and the data files it names (key, path as written, resolved path). */
  manifest?: { path: string; files: { key: string; written: string; path: string }[] };
}

/** A data problem a user can fix: the message names the file and the row/column/node (util/errors.ts). */
export { DataError } from '../util/errors.js';

/** Value at (t, n, f). */
export function seriesAt(city: City, t: number, n: number, f = 0): number {
  return city.series[(t * city.N + n) * city.F + f]!;
}

/** Steps per day: the daily window's, else the interval's whole day (e.g. 288 at 5 min). */
export function stepsPerDay(city: Pick<City, 'intervalMinutes' | 'day'>): number {
  return city.day ? city.day.steps : Math.round((24 * 60) / city.intervalMinutes);
}

/** Clock minutes (after midnight, in [0, 1440)) of a step's slot within the day. */
export function slotClockMinutes(city: Pick<City, 'intervalMinutes' | 'day'>, slot: number): number {
  const start = city.day?.startMinutes ?? 0;
  return (((start + slot * city.intervalMinutes) % 1440) + 1440) % 1440;
}
