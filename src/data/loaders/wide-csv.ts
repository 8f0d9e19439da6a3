/**
 * Wide CSV series: one row per time step, one column per node (F = 1), with an optional timestamp
 * column, or day and slot columns numbering each row (a series covering part of each day).
 */
import { quoteText } from '../../util/errors.js';
import { DataError, type DailyWindow } from '../city.js';
import { checkTimestamps, checkUniqueIds, isMissingValue, type MissingSpec } from '../validate.js';
import { parseNumberCell, parseTimestamp, raggedError, readTextFile, splitFields, splitLines, unquote, type Delimiter, type SeriesData, type TimestampFormat } from './csv.js';

export interface WideCsvOptions {
  header: boolean;
  delimiter: Delimiter;
  /** Column holding the time of each row, by header name or 0-based index. */
  timestampColumn?: string | number;
  timestampFormat: TimestampFormat;
  missing: MissingSpec;
  /** If given, timestamps must step by exactly this interval (errors name the line). */
  intervalMinutes?: number;
  /** The series covers only part of each day (timestamps jump overnight; see City.day). */
  day?: DailyWindow;
  /**
   * Columns numbering each row's day and its slot within the day (e.g. a metro's `day`, `slot`):
   * not nodes; rows must run slot 0, 1, ... stepsPerDay - 1, then the next day's slot 0.
   */
  dayColumn?: string | number;
  slotColumn?: string | number;
}

/** Wide CSV: one row per time step, one column per node (F = 1), optional timestamp column. */
export function readWideCsvSeries(file: string, opts: WideCsvOptions): SeriesData {
  const t = splitLines(readTextFile(file), file);
  if (t.lines.length === 0) throw new DataError(`${file}: file is empty`);
  const width = splitFields(t.lines[0]!, opts.delimiter).length;
  let header: string[] | null = null;
  let first = 0;
  if (opts.header) {
    header = splitFields(t.lines[0]!, opts.delimiter).map(unquote);
    first = 1;
  }
  const columnOf = (key: string, spec: string | number | undefined): number => {
    if (spec === undefined) return -1;
    let c: number;
    if (typeof spec === 'number') c = spec;
    else {
      if (!header) throw new DataError(`${file}: ${key} "${spec}" given by name but the manifest says the file has no header`);
      c = header.indexOf(spec);
      if (c < 0) throw new DataError(`${file}, line 1: no column named "${spec}" (${key}); header starts ${quoteText(header.slice(0, 5).join(','))}`);
    }
    if (c >= width) throw new DataError(`${file}: ${key} ${c} is beyond the ${width} columns`);
    return c;
  };
  const tsCol = columnOf('timestampColumn', opts.timestampColumn);
  const dayCol = columnOf('dayColumn', opts.dayColumn);
  const slotCol = columnOf('slotColumn', opts.slotColumn);
  if ((dayCol < 0) !== (slotCol < 0)) throw new DataError(`${file}: dayColumn and slotColumn go together (each row's day and its slot within the day)`);
  const nodeCols: number[] = [];
  for (let c = 0; c < width; c++) if (c !== tsCol && c !== dayCol && c !== slotCol) nodeCols.push(c);
  const N = nodeCols.length;
  if (N === 0) throw new DataError(`${file}: no node columns`);
  const nodeIds = nodeCols.map((c, k) => (header ? header[c]! : String(k)));
  if (header) {
    nodeCols.forEach((c, k) => {
      if (nodeIds[k] === '') throw new DataError(`${file}, line 1, column ${c + 1}: empty node id in the header`);
    });
    checkUniqueIds(nodeIds, (k) => `${file}, line 1, column ${nodeCols[k]! + 1}`);
  }
  const T = t.lines.length - first;
  if (T <= 0) throw new DataError(`${file}: header only, no data rows`);
  const series = new Float32Array(T * N);
  let mask: Uint8Array | undefined;
  const timestamps = tsCol >= 0 ? new Float64Array(T) : undefined;
  const days = dayCol >= 0 ? new Int32Array(T) : undefined;
  const slotsPerDay = opts.day?.steps ?? (opts.intervalMinutes ? Math.round(1440 / opts.intervalMinutes) : undefined);
  let prevSlot = -1;
  const hasMissing = opts.missing.values.length > 0 || opts.missing.nan;
  for (let r = 0; r < T; r++) {
    const k = r + first;
    const cells = splitFields(t.lines[k]!, opts.delimiter);
    if (cells.length !== width) throw raggedError(t, k, cells.length, width, opts.header ? 'the header' : 'line 1');
    if (timestamps) {
      timestamps[r] = parseTimestamp(cells[tsCol]!, opts.timestampFormat, () => `${file}, line ${t.lineNo[k]}, column ${tsCol + 1}`);
    }
    if (days) {
      const at = `${file}, line ${t.lineNo[k]}`;
      const day = Number(unquote(cells[dayCol]!));
      const slot = Number(unquote(cells[slotCol]!));
      if (!Number.isInteger(day) || !Number.isInteger(slot)) throw new DataError(`${at}: day ${quoteText(cells[dayCol])} and slot ${quoteText(cells[slotCol])} must be integers`);
      // Each row is the slot after the previous one: a missing or repeated row would shift every later reading's clock.
      const steps = slotsPerDay ?? Infinity;
      const want = r === 0 ? { day, slot: 0 } : prevSlot + 1 < steps ? { day: days[r - 1]!, slot: prevSlot + 1 } : { day: days[r - 1]! + 1, slot: 0 };
      if (day !== want.day || slot !== want.slot) {
        throw new DataError(`${at}: day ${day}, slot ${slot} where day ${want.day}, slot ${want.slot} was expected (rows run slot 0..${steps - 1} of each day in order, starting at a day's slot 0; no gaps or repeats)`);
      }
      days[r] = day;
      prevSlot = slot;
    }
    for (let n = 0; n < N; n++) {
      const c = nodeCols[n]!;
      const cell = cells[c]!;
      let v = Number(cell);
      // Fast path inline (no closure per cell): only odd cells take the checked route.
      if (!(Number.isFinite(v) && v !== 0)) {
        v = parseNumberCell(cell, opts.missing, () => `${file}, line ${t.lineNo[k]}, column ${c + 1} (node "${nodeIds[n]}")`);
      }
      if (hasMissing && isMissingValue(v, opts.missing)) {
        mask ??= new Uint8Array(T * N).fill(1);
        mask[r * N + n] = 0;
        series[r * N + n] = 0;
      } else {
        series[r * N + n] = v;
      }
    }
  }
  if (timestamps && opts.intervalMinutes !== undefined) {
    checkTimestamps(timestamps, T, opts.intervalMinutes, (r) => `${file}, line ${t.lineNo[r + first]}, column ${tsCol + 1}`, opts.day);
  }
  return { nodeIds, T, N, F: 1, series, mask, timestamps, ...(days ? { days } : {}) };
}
