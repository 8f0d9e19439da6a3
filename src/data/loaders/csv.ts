/**
 * Delimited-text loaders: wide series CSV, dense matrices, `i j w` edge lists, node2vec text,
 * single columns. Hand-rolled line/field splitting (no CSV library): the data files here are
 * plain numbers, and splitting is several times faster than a general RFC 4180 parser. Every
 * cell error names the file, the 1-based line and column, and the node when known.
 */
import { readFileSync } from 'node:fs';
import { quoteText } from '../../util/errors.js';
import { DataError, type DailyWindow } from '../city.js';
import { parseNumberCell, parseTimestamp, unquote, type TimestampFormat } from './cells.js';
import { checkTimestamps, checkUniqueIds, isMissingValue, type LocatedMatrix, type MissingSpec } from '../validate.js';

export type Delimiter = ',' | ';' | '\t' | 'whitespace';
export { parseNumberCell, parseTimestamp, unquote, type TimestampFormat };

/** Non-empty lines of a text file with their 1-based line numbers (CRLF and BOM tolerated). */
export interface TextLines {
  file: string;
  lines: string[];
  /** lineNo[k] = 1-based line number of lines[k] in the file. */
  lineNo: number[];
}

export function readTextFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new DataError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Split into lines, dropping trailing blank lines only: a blank line inside the data is a ragged
 * row and must be reported, not skipped.
 */
export function splitLines(text: string, file: string): TextLines {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const raw = text.split('\n');
  let end = raw.length;
  while (end > 0 && raw[end - 1]!.trim() === '') end--;
  const lines = new Array<string>(end);
  const lineNo = new Array<number>(end);
  for (let k = 0; k < end; k++) {
    const l = raw[k]!;
    lines[k] = l.charCodeAt(l.length - 1) === 13 ? l.slice(0, -1) : l;
    lineNo[k] = k + 1;
  }
  return { file, lines, lineNo };
}

export function splitFields(line: string, delimiter: Delimiter): string[] {
  if (delimiter === 'whitespace') {
    const t = line.trim();
    return t === '' ? [''] : t.split(/\s+/);
  }
  return line.split(delimiter);
}

function raggedError(t: TextLines, k: number, got: number, want: number, wantFrom: string): DataError {
  return new DataError(`${t.file}, line ${t.lineNo[k]}: ${got} fields, expected ${want} like ${wantFrom} (ragged row)`);
}

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

/** A [T, N, F] series plus what the file said about nodes and time. */
export interface SeriesData {
  nodeIds: string[];
  T: number;
  N: number;
  F: number;
  series: Float32Array;
  /** Present only if some reading was declared missing. */
  mask?: Uint8Array;
  timestamps?: Float64Array;
  /** With day/slot columns: each row's day number and the first row's (days[0], slot 0). */
  days?: Int32Array;
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

export interface MatrixOptions {
  header: boolean;
  delimiter: Delimiter;
}

/** A dense numeric matrix, one row per line (adjacency, embeddings). */
export function readCsvMatrix(file: string, opts: MatrixOptions): LocatedMatrix {
  const t = splitLines(readTextFile(file), file);
  const first = opts.header ? 1 : 0;
  const rows = t.lines.length - first;
  if (rows <= 0) throw new DataError(`${file}: no data rows`);
  const cols = splitFields(t.lines[first]!, opts.delimiter).length;
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const k = r + first;
    const cells = splitFields(t.lines[k]!, opts.delimiter);
    if (cells.length !== cols) throw raggedError(t, k, cells.length, cols, `line ${t.lineNo[first]}`);
    for (let c = 0; c < cols; c++) {
      data[r * cols + c] = parseNumberCell(cells[c]!, null, () => `${file}, line ${t.lineNo[k]}, column ${c + 1}`);
    }
  }
  return { rows, cols, data, file, locate: (r, c) => `${file}, line ${t.lineNo[r + first]}, column ${c + 1}` };
}

export interface Edge {
  from: number;
  to: number;
  weight: number;
  /** Place in the source file, for errors. */
  where: string;
}

export interface EdgeListOptions {
  header: boolean;
  /** Node references: 0/1-based indices, or ids matched against the series' node ids. */
  nodeRef: 'index' | 'id';
  indexBase: number;
}

/**
 * `i j w` lines (whitespace or comma separated; `w` optional = 1). Resolves node references to
 * 0-based indices; an index may exceed the series' nodes (the caller's selection decides).
 */
export function readEdgeList(file: string, opts: EdgeListOptions, nodeIds: readonly string[]): Edge[] {
  const t = splitLines(readTextFile(file), file);
  const byId = opts.nodeRef === 'id' ? new Map(nodeIds.map((id, i) => [id, i])) : null;
  const edges: Edge[] = [];
  for (let k = opts.header ? 1 : 0; k < t.lines.length; k++) {
    const where = `${file}, line ${t.lineNo[k]}`;
    const line = t.lines[k]!;
    if (line.trim() === '') throw new DataError(`${where}: blank line in the edge list`);
    const cells = line.trim().split(/[\s,]+/);
    if (cells.length !== 2 && cells.length !== 3) throw new DataError(`${where}: ${cells.length} fields, an edge list line is "from to [weight]"`);
    const ends = [0, 1].map((c) => {
      const cell = unquote(cells[c]!);
      if (byId) {
        const i = byId.get(cell);
        if (i === undefined) throw new DataError(`${where}, column ${c + 1}: node id ${quoteText(cell)} is not one of the series' nodes`);
        return i;
      }
      const v = Number(cell);
      if (!/^\d+$/.test(cell) || v - opts.indexBase < 0) {
        throw new DataError(`${where}, column ${c + 1}: ${quoteText(cell)} is not a node index (>= ${opts.indexBase})`);
      }
      return v - opts.indexBase;
    });
    const weight = cells.length === 3 ? parseNumberCell(cells[2]!, null, () => `${where}, column 3`) : 1;
    edges.push({ from: ends[0]!, to: ends[1]!, weight, where });
  }
  return edges;
}

/**
 * node2vec / GMAN text embedding: first line `N D`, then N lines `index v1..vD` in any order.
 * Returns rows sorted by index, so row i belongs to node i.
 */
export function readNode2vecText(file: string): LocatedMatrix {
  const t = splitLines(readTextFile(file), file);
  if (t.lines.length === 0) throw new DataError(`${file}: file is empty`);
  const head = splitFields(t.lines[0]!, 'whitespace');
  const [n, d] = head.map(Number);
  if (head.length !== 2 || !Number.isInteger(n) || !Number.isInteger(d) || n! <= 0 || d! <= 0) {
    throw new DataError(`${file}, line 1: expected "<nodes> <dims>", got ${quoteText(t.lines[0])}`);
  }
  const rows = n!;
  const cols = d!;
  if (t.lines.length - 1 !== rows) throw new DataError(`${file}: header says ${rows} nodes but there are ${t.lines.length - 1} rows`);
  const data = new Float64Array(rows * cols);
  const lineOf = new Int32Array(rows).fill(-1);
  for (let k = 1; k < t.lines.length; k++) {
    const cells = splitFields(t.lines[k]!, 'whitespace');
    const where = `${file}, line ${t.lineNo[k]}`;
    if (cells.length !== cols + 1) throw new DataError(`${where}: ${cells.length} fields, expected 1 + ${cols} (ragged row)`);
    const idx = Number(cells[0]);
    if (!Number.isInteger(idx) || idx < 0 || idx >= rows) throw new DataError(`${where}, column 1: node index ${quoteText(cells[0])} is outside 0..${rows - 1}`);
    if (lineOf[idx] !== -1) throw new DataError(`${where}, column 1: node index ${idx} repeats line ${lineOf[idx]}`);
    lineOf[idx] = t.lineNo[k]!;
    for (let c = 0; c < cols; c++) {
      data[idx * cols + c] = parseNumberCell(cells[c + 1]!, null, () => `${where}, column ${c + 2} (node ${idx})`);
    }
  }
  return { rows, cols, data, file, locate: (r, c) => `${file}, line ${lineOf[r]}, column ${c + 2}` };
}

/** A header-keyed table of raw string cells (coordinates, categories). */
export interface CsvTable {
  file: string;
  header: string[] | null;
  rows: string[][];
  /** 1-based file line of rows[r]. */
  lineOf(r: number): number;
}

export function readCsvTable(file: string, opts: MatrixOptions): CsvTable {
  const t = splitLines(readTextFile(file), file);
  const first = opts.header ? 1 : 0;
  if (t.lines.length <= first) throw new DataError(`${file}: no data rows`);
  const header = opts.header ? splitFields(t.lines[0]!, opts.delimiter).map(unquote) : null;
  const width = header ? header.length : splitFields(t.lines[0]!, opts.delimiter).length;
  const rows: string[][] = [];
  for (let k = first; k < t.lines.length; k++) {
    const cells = splitFields(t.lines[k]!, opts.delimiter);
    if (cells.length !== width) throw raggedError(t, k, cells.length, width, opts.header ? 'the header' : 'line 1');
    rows.push(cells);
  }
  return { file, header, rows, lineOf: (r) => t.lineNo[r + first]! };
}

/** 0-based index of a column given by header name or index. */
export function columnIndex(table: CsvTable, column: string | number, key: string): number {
  const width = table.header?.length ?? table.rows[0]!.length;
  if (typeof column === 'number') {
    if (!Number.isInteger(column) || column < 0 || column >= width) throw new DataError(`${table.file}: ${key} ${column} is outside the ${width} columns (0-based)`);
    return column;
  }
  if (!table.header) throw new DataError(`${table.file}: ${key} "${column}" is a name but the manifest says the file has no header`);
  const c = table.header.indexOf(column);
  if (c < 0) throw new DataError(`${table.file}, line 1: no column named "${column}" (${key}); columns: ${quoteText(table.header.join(','))}`);
  return c;
}

/** One numeric column of a table, every cell checked. */
export function numericColumn(table: CsvTable, c: number): Float64Array {
  const out = new Float64Array(table.rows.length);
  const name = table.header ? ` ("${table.header[c]}")` : '';
  table.rows.forEach((row, r) => {
    out[r] = parseNumberCell(row[c]!, null, () => `${table.file}, line ${table.lineOf(r)}, column ${c + 1}${name}`);
  });
  return out;
}
