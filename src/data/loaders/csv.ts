/**
 * Delimited-text loaders (the wide series CSV is in wide-csv.ts): dense matrices, `i j w` edge lists, node2vec text,
 * single columns. Hand-rolled line/field splitting (no CSV library): the data files here are
 * plain numbers, and splitting is several times faster than a general RFC 4180 parser. Every
 * cell error names the file, the 1-based line and column, and the node when known.
 */
import { readFileSync } from 'node:fs';
import { quoteText } from '../../util/errors.js';
import { DataError } from '../city.js';
import { type LocatedMatrix, type MissingSpec } from '../validate.js';

export type Delimiter = ',' | ';' | '\t' | 'whitespace';
export type TimestampFormat = 'iso' | 'M/D/YYYY H:MM' | 'D/M/YYYY H:MM';

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

/** Strip one pair of surrounding double quotes (ids and headers are sometimes quoted). */
export function unquote(cell: string): string {
  const t = cell.trim();
  return t.length >= 2 && t.charCodeAt(0) === 34 && t.charCodeAt(t.length - 1) === 34 ? t.slice(1, -1) : t;
}

/** Why a cell that failed to parse is not a usable number (for the error message). */
function cellProblem(cell: string): string {
  const t = unquote(cell);
  if (t === '') return 'is empty';
  if (/^[+-]?nan$/i.test(t)) return 'is NaN';
  if (/^[+-]?inf(inity)?$/i.test(t)) return 'is not finite';
  // A number too large for a double (1e400) parses as Infinity: say so rather than "not a number".
  if (!Number.isFinite(Number(t)) && !Number.isNaN(Number(t))) return 'is out of range (beyond ±1.8e308)';
  return 'is not a number';
}

/**
 * Parse one numeric cell. Returns NaN for a cell that is declared missing (empty/NaN when
 * `missing.nan`); throws naming `where()` otherwise.
 */
export function parseNumberCell(cell: string, missing: MissingSpec | null, where: () => string): number {
  const v = Number(cell);
  // Number('') and Number('  ') are 0: only trust a 0 if the cell really holds a digit.
  if (Number.isFinite(v) && (v !== 0 || /\d/.test(cell))) return v;
  const t = unquote(cell);
  if (t !== cell) {
    const u = Number(t);
    if (Number.isFinite(u) && (u !== 0 || /\d/.test(t))) return u;
  }
  const gap = t === '' || /^[+-]?nan$/i.test(t);
  if (gap && missing?.nan) return NaN;
  const hint = gap && missing ? ' (declare "missing": "nan" in the manifest if these are gaps)' : '';
  throw new DataError(`${where()}: ${quoteText(cell)} ${cellProblem(cell)}${hint}`);
}

export function raggedError(t: TextLines, k: number, got: number, want: number, wantFrom: string): DataError {
  return new DataError(`${t.file}, line ${t.lineNo[k]}: ${got} fields, expected ${want} like ${wantFrom} (ragged row)`);
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

/**
 * Times without a zone are read as UTC clock values: what matters downstream is the local time
 * of day and weekday printed in the file, not the absolute instant.
 */
export function parseTimestamp(cell: string, format: TimestampFormat, where: () => string): number {
  const s = unquote(cell);
  let ms = NaN;
  if (format === 'iso') {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|([+-])(\d{2}):?(\d{2}))?$/.exec(s);
    if (m) {
      const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((k) => Number(m[k] ?? 0)) as [number, number, number, number, number, number];
      const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
      const offset = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) * 60_000 : 0;
      if (mo >= 1 && mo <= 12 && d >= 1 && h < 24 && mi < 60 && sec < 60) {
        ms = Date.UTC(y, mo - 1, d, h, mi, sec) + frac - offset;
        if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) ms = NaN;
      }
    }
  } else {
    const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
    if (m) {
      const [a, b] = [Number(m[1]), Number(m[2])];
      const [month, day] = format === 'M/D/YYYY H:MM' ? [a, b] : [b, a];
      const [h, min, sec] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
      if (month >= 1 && month <= 12 && day >= 1 && day <= 31 && h < 24 && min < 60 && sec < 60) {
        ms = Date.UTC(Number(m[3]), month - 1, day, h, min, sec);
        // Date.UTC rolls 2/31 over into March: reject rather than shift silently.
        if (new Date(ms).getUTCDate() !== day) ms = NaN;
      }
    }
  }
  if (!Number.isFinite(ms)) throw new DataError(`${where()}: ${quoteText(cell)} is not ${format === 'iso' ? 'an ISO 8601' : `a ${format}`} timestamp`);
  return ms;
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
