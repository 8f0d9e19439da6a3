/**
 * Checks shared by every loader, and the final guard `validateCity` that every loaded (or
 * generated) City passes. Loaders check cells where they still know the file line/column; this
 * module owns the rules themselves so every format rejects the same things with the same words.
 */
import { DataError, type City, type DailyWindow } from './city.js';
import type { NpyArray } from './loaders/npy.js';

/** Input steps (12) + output steps (6): a series shorter than this yields no training window. */
export const MIN_WINDOW_STEPS = 18;

/** Which cell values mean "no reading" (masked, not counted as a number). */
export interface MissingSpec {
  values: number[];
  nan: boolean;
}

export const NO_MISSING: MissingSpec = { values: [], nan: false };

/** Manifest form (`0`, `"nan"`, `[0, "nan"]`) -> MissingSpec. */
export function missingSpecOf(raw: number | 'nan' | Array<number | 'nan'> | undefined): MissingSpec {
  if (raw === undefined) return NO_MISSING;
  const items = Array.isArray(raw) ? raw : [raw];
  return { values: items.filter((v): v is number => typeof v === 'number'), nan: items.includes('nan') };
}

export function isMissingValue(v: number, missing: MissingSpec): boolean {
  if (Number.isNaN(v)) return missing.nan;
  for (const m of missing.values) if (v === m) return true;
  return false;
}

/**
 * A numeric matrix read from some file plus a way to name any cell's place in that file, so
 * checks done after parsing (negative weights, size mismatch) can still point at the line.
 */
export interface LocatedMatrix {
  rows: number;
  cols: number;
  /** Row-major [rows, cols]. */
  data: Float64Array;
  /** The file the matrix came from. */
  file: string;
  /** Human-readable place of cell (r, c), e.g. "adj.csv, line 4, column 7". */
  locate(r: number, c: number): string;
}

/** How a node-indexed table maps onto the series' N nodes. */
export type RowSelection = 'all' | 'first-n' | { indices: number[] };

/**
 * Row indices (into a table with `available` rows) for the N series nodes. `what` names the
 * table and file in errors.
 */
export function selectRows(available: number, n: number, select: RowSelection, what: string): number[] {
  if (select === 'all') {
    if (available !== n) {
      throw new DataError(
        `${what} has ${available} nodes but the series has ${n}; if the series uses only some of them, ` +
          `set "select": "first-n" or "select": {"indices": [...]} in the manifest`,
      );
    }
    return Array.from({ length: n }, (_, i) => i);
  }
  if (select === 'first-n') {
    if (available < n) throw new DataError(`${what} has ${available} nodes, fewer than the series' ${n} ("select": "first-n")`);
    return Array.from({ length: n }, (_, i) => i);
  }
  const idx = select.indices;
  if (idx.length !== n) throw new DataError(`${what}: "select.indices" lists ${idx.length} rows but the series has ${n} nodes`);
  const seen = new Map<number, number>();
  idx.forEach((r, k) => {
    if (!Number.isInteger(r) || r < 0 || r >= available) {
      throw new DataError(`${what}: "select.indices"[${k}] = ${r} is outside 0..${available - 1}`);
    }
    const prev = seen.get(r);
    if (prev !== undefined) throw new DataError(`${what}: "select.indices"[${k}] repeats row ${r} (also at [${prev}])`);
    seen.set(r, k);
  });
  return [...idx];
}

/** Duplicate node ids make node-keyed joins ambiguous. `where(k)` names the k-th id's place. */
export function checkUniqueIds(ids: readonly string[], where: (k: number) => string): void {
  const first = new Map<string, number>();
  ids.forEach((id, k) => {
    const prev = first.get(id);
    if (prev !== undefined) throw new DataError(`duplicate node id "${id}" at ${where(k)} (first at ${where(prev)})`);
    first.set(id, k);
  });
}

/** Adjacency weights must be finite and non-negative (they become propagation weights). */
export function checkAdjacencyValues(m: LocatedMatrix): void {
  const { rows, cols, data } = m;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const w = data[r * cols + c]!;
      if (!Number.isFinite(w)) throw new DataError(`${m.locate(r, c)}: adjacency weight ${w} is not finite`);
      if (w < 0) throw new DataError(`${m.locate(r, c)}: negative adjacency weight ${w} (edge ${r} -> ${c})`);
    }
  }
}

export function checkSquare(m: LocatedMatrix, what: string): void {
  if (m.rows !== m.cols) throw new DataError(`${what} ${m.file} is ${m.rows}x${m.cols}, an adjacency matrix must be square`);
}

export function checkMinSteps(T: number, where: string): void {
  if (T < MIN_WINDOW_STEPS) {
    throw new DataError(
      `${where}: series has ${T} time steps, fewer than one window (${MIN_WINDOW_STEPS} = 12 input + 6 output steps)`,
    );
  }
}

/**
 * The invariants every City satisfies, whatever produced it. Throws DataError naming the city
 * (its `source`) and the node/step at fault.
 */
export function validateCity(city: City): void {
  const where = `city "${city.id}"${city.source ? ` (${city.source})` : ''}`;
  const { T, N, F } = city;
  for (const [k, v] of [['T', T], ['N', N], ['F', F]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new DataError(`${where}: ${k} must be a positive integer, got ${v}`);
  }
  if (!(city.intervalMinutes > 0)) throw new DataError(`${where}: intervalMinutes must be > 0, got ${city.intervalMinutes}`);
  if (city.nodeIds.length !== N) throw new DataError(`${where}: ${city.nodeIds.length} node ids for ${N} nodes`);
  checkUniqueIds(city.nodeIds, (k) => `node ${k}`);
  checkMinSteps(T, where);
  if (city.series.length !== T * N * F) {
    throw new DataError(`${where}: series has ${city.series.length} values, expected T*N*F = ${T}*${N}*${F}`);
  }
  if (city.mask && city.mask.length !== city.series.length) {
    throw new DataError(`${where}: mask has ${city.mask.length} values, series has ${city.series.length}`);
  }
  for (let i = 0; i < city.series.length; i++) {
    const v = city.series[i]!;
    if (!Number.isFinite(v)) {
      const f = i % F;
      const n = Math.floor(i / F) % N;
      const t = Math.floor(i / (F * N));
      throw new DataError(`${where}: value ${v} at step ${t}, node ${n} ("${city.nodeIds[n]}"), feature ${f} is not finite`);
    }
  }
  if (city.day) checkDailyWindow(city.day, city.intervalMinutes, where);
  if (city.timestamps) checkTimestamps(city.timestamps, T, city.intervalMinutes, (t) => `${where}, step ${t}`, city.day);
  if (city.adjacency.length !== N * N) {
    throw new DataError(`${where}: adjacency has ${city.adjacency.length} entries, expected N*N = ${N * N}`);
  }
  checkAdjacencyValues({
    rows: N,
    cols: N,
    data: Float64Array.from(city.adjacency),
    file: where,
    locate: (r, c) => `${where}, adjacency [${r}, ${c}]`,
  });
  if (city.featureNames && city.featureNames.length !== F) {
    throw new DataError(`${where}: ${city.featureNames.length} feature names for F = ${F}`);
  }
  const a = city.attributes;
  if (a.coords) {
    if (a.coords.length !== N * 2) throw new DataError(`${where}: coords has ${a.coords.length} values, expected N*2 = ${N * 2}`);
    for (let i = 0; i < a.coords.length; i++) {
      if (!Number.isFinite(a.coords[i]!)) throw new DataError(`${where}: coordinate of node ${i >> 1} is not finite`);
    }
  }
  for (const [name, e] of Object.entries(a.embeddings ?? {})) {
    if (e.data.length !== N * e.dim) throw new DataError(`${where}: embedding "${name}" has ${e.data.length} values, expected N*dim = ${N}*${e.dim}`);
    for (let i = 0; i < e.data.length; i++) {
      if (!Number.isFinite(e.data[i]!)) throw new DataError(`${where}: embedding "${name}" of node ${Math.floor(i / e.dim)} is not finite`);
    }
  }
  for (const [name, c] of Object.entries(a.categories ?? {})) {
    if (c.length !== N) throw new DataError(`${where}: category "${name}" has ${c.length} values, expected N = ${N}`);
  }
}

export function checkDailyWindow(day: DailyWindow, intervalMinutes: number, where: string): void {
  if (!Number.isInteger(day.steps) || day.steps < 1) throw new DataError(`${where}: daily.steps must be a positive integer, got ${day.steps}`);
  if (!(day.startMinutes >= 0 && day.startMinutes < 1440)) throw new DataError(`${where}: daily.start must be a clock time in [00:00, 24:00), got ${day.startMinutes} minutes`);
  if (day.steps * intervalMinutes > 1440) {
    throw new DataError(`${where}: daily.steps ${day.steps} x ${intervalMinutes} min = ${day.steps * intervalMinutes} min is more than a day`);
  }
}

const hhmm = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(Math.round(minutes % 60)).padStart(2, '0')}`;

/**
 * Timestamps must step by exactly the interval (windows assume a regular clock). With a daily window
 * every reading lies in the window and a day's last reading is followed by the next day's first.
 */
export function checkTimestamps(ts: Float64Array, T: number, intervalMinutes: number, where: (t: number) => string, day?: DailyWindow): void {
  if (ts.length !== T) throw new DataError(`${where(0)}: ${ts.length} timestamps for ${T} steps`);
  const step = intervalMinutes * 60_000;
  const slotOf = (ms: number) => {
    const minutes = ((((ms / 60_000) % 1440) + 1440) % 1440) - (day?.startMinutes ?? 0);
    return (((minutes % 1440) + 1440) % 1440) / intervalMinutes;
  };
  if (day) {
    for (let t = 0; t < T; t++) {
      const slot = slotOf(ts[t]!);
      if (!Number.isInteger(slot) || slot >= day.steps) {
        const last = day.startMinutes + (day.steps - 1) * intervalMinutes;
        throw new DataError(`${where(t)}: timestamp ${new Date(ts[t]!).toISOString()} is outside the daily window (${day.steps} readings from ${hhmm(day.startMinutes)} to ${hhmm(last % 1440)}, every ${intervalMinutes} min)`);
      }
    }
  }
  for (let t = 1; t < T; t++) {
    const d = ts[t]! - ts[t - 1]!;
    if (d === step) continue;
    // The overnight gap of a daily window: from a day's last reading to the next day's first.
    if (day && slotOf(ts[t - 1]!) === day.steps - 1 && slotOf(ts[t]!) === 0 && d === (1440 - (day.steps - 1) * intervalMinutes) * 60_000) continue;
    const overnight = !day && d > step && d < 86_400_000 && new Date(ts[t]!).getUTCDate() !== new Date(ts[t - 1]!).getUTCDate();
    const hint = overnight
      ? `; if the series covers only part of each day, declare it in the manifest: "daily": {"start": "${hhmm((ts[t]! / 60_000) % 1440)}", "steps": <readings per day>}`
      : ' (gaps and duplicates are not supported)';
    throw new DataError(
      `${where(t)}: timestamp ${new Date(ts[t]!).toISOString()} is ${d / 60_000} min after the previous one, expected the ${intervalMinutes} min interval${hint}`,
    );
  }
}

/** A 2-D array read from a .npy/.npz file as a located matrix (errors name the file, key and cell). */
export function arrayMatrix(arr: NpyArray, file: string, key: string | undefined): LocatedMatrix {
  const where = key ? `${file} [${key}]` : file;
  if (arr.shape.length !== 2) throw new DataError(`${where}: expected a 2-D array, got shape (${arr.shape.join(', ')})`);
  const [rows, cols] = arr.shape as [number, number];
  return { rows, cols, data: Float64Array.from(arr.data), file: where, locate: (r, c) => `${where} [${r}, ${c}]` };
}
