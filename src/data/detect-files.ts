/**
 * What one file of a city folder looks like (for `gpd data init` and folders without a city.json):
 * a series (wide CSV, .npy/.npz array, node-link JSON), a graph (dense matrix, edge list, square
 * array) or something else, with the manifest part that reads it. Only the head of a text file is
 * looked at to classify it; the loader still checks every cell. data/detect.ts chooses among the
 * candidates of a folder.
 */
import { basename, extname } from 'node:path';
import { DataError } from './city.js';
import { parseTimestamp, readTextFile, splitFields, splitLines, unquote, type Delimiter, type TimestampFormat } from './loaders/csv.js';
import { readNodeLinkDoc } from './loaders/nodelink.js';
import { readNpy, readNpz, type NpyArray } from './loaders/npy.js';
import { MIN_WINDOW_STEPS } from './validate.js';

export type Role = 'series' | 'graph' | 'other';

export interface FileCandidate {
  /** File name inside the folder. */
  file: string;
  role: Role;
  /** One line for messages: `x_flow.csv (wide CSV, 2016 steps x 207 nodes, header of node ids, no timestamps)`. */
  describe: string;
  /** Nodes (series: columns; graph: matrix size, or the highest index + 1 of an edge list). */
  nodes?: number;
  steps?: number;
  /** The manifest's `series` or `adjacency` object for this file. */
  spec?: Record<string, unknown>;
  /** Series: node ids from a header (undefined = 0..N-1). */
  nodeIds?: string[];
  /** Series: time of the first two steps (ms), when the file has timestamps. */
  times?: [number, number];
  /** Edge lists: the node references (to match against the series' ids). */
  edgeRefs?: { ids: string[]; integer: boolean; min: number; max: number };
}

const SKIPPED_EXT = new Set(['.md', '.gz', '.tgz', '.zip', '.tar', '.pkl', '.pickle', '.png', '.jpg', '.pdf', '.html', '.yaml', '.yml', '.py', '.ipynb']);
const TEXT_EXT = new Set(['.csv', '.tsv', '.txt', '.dat', '']);
const HEAD_LINES = 200;

const isNumber = (cell: string): boolean => {
  const t = unquote(cell);
  return t !== '' && Number.isFinite(Number(t));
};
const isGap = (cell: string): boolean => /^(|[+-]?nan|null|na)$/i.test(unquote(cell));
const isInteger = (cell: string): boolean => /^\d+$/.test(unquote(cell));

/** Candidates for one file; a file that is not data (a README, an archive) yields none. */
export function sniffFile(dir: string, file: string): FileCandidate[] {
  const ext = extname(file).toLowerCase();
  if (file.startsWith('.') || SKIPPED_EXT.has(ext) || file.endsWith('.city.json') || file === 'city.json') return [];
  const path = `${dir}/${file}`;
  if (ext === '.npy') return [arrayCandidate(file, readNpy(path), { format: 'npy', file })];
  if (ext === '.npz') return npzCandidates(file, readNpz(path));
  if (ext === '.json') return nodeLinkCandidates(dir, file);
  if (TEXT_EXT.has(ext)) return [textCandidate(path, file)];
  return [];
}

function other(file: string, why: string): FileCandidate {
  return { file, role: 'other', describe: `${file} (${why})` };
}

function arrayCandidate(file: string, arr: NpyArray, spec: Record<string, unknown>, label = file): FileCandidate {
  const s = arr.shape;
  if (s.length === 2 && s[0] === s[1]) return { file, role: 'graph', nodes: s[0], spec, describe: `${label} (square ${s[0]}x${s[1]} array)` };
  if (s.length === 2 || s.length === 3) {
    const [T, N, F = 1] = s as [number, number, number?];
    return { file, role: 'series', nodes: N, steps: T, spec, describe: `${label} (array [${s.join(', ')}]: ${T} steps x ${N} nodes${F > 1 ? ` x ${F} features` : ''})` };
  }
  if (s.length === 4) return other(label, `4-D array [${s.join(', ')}]: sliding windows; write city.json by hand with "format": "npz-windows" (docs/data-formats.md)`);
  return other(label, `${s.length}-D array [${s.join(', ')}]`);
}

function npzCandidates(file: string, members: Map<string, NpyArray>): FileCandidate[] {
  return [...members].map(([key, arr]) => arrayCandidate(file, arr, { format: 'npz', file, key }, `${file} [${key}]`));
}

function nodeLinkCandidates(dir: string, file: string): FileCandidate[] {
  let doc;
  try {
    doc = readNodeLinkDoc(`${dir}/${file}`);
  } catch (err) {
    if (err instanceof DataError) return [other(file, 'JSON without "nodes" and "links"')];
    throw err;
  }
  const first = doc.nodes[0]!;
  const idKey = 'id' in first ? 'id' : undefined;
  const seriesKey = Object.keys(first).find((k) => Array.isArray(first[k]) && (first[k] as unknown[]).length >= MIN_WINDOW_STEPS && (first[k] as unknown[]).every((v) => typeof v === 'number' || v === null));
  if (!idKey || !seriesKey) return [other(file, `node-link JSON whose nodes have no "id" or no numeric series array`)];
  const steps = (first[seriesKey] as unknown[]).length;
  const weighted = doc.links.length > 0 && typeof doc.links[0]!['weight'] === 'number';
  const N = doc.nodes.length;
  return [
    { file, role: 'series', nodes: N, steps, spec: { format: 'node-link', file, idKey, seriesKey }, describe: `${file} (node-link JSON, ${steps} steps x ${N} nodes in "${seriesKey}")` },
    { file, role: 'graph', nodes: N, spec: { format: 'node-link', file, idKey, weightKey: weighted ? 'weight' : null }, describe: `${file} (node-link JSON, ${doc.links.length} links${weighted ? ', weighted' : ''})` },
  ];
}

function pickDelimiter(lines: string[]): Delimiter | null {
  const sample = lines.slice(0, 20);
  for (const d of [',', '\t', ';', 'whitespace'] as const) {
    const widths = sample.map((l) => splitFields(l, d).length);
    // A node2vec header ("207 64") is narrower than its rows: judge consistency on the rows after it.
    const body = widths.length > 2 ? widths.slice(1) : widths;
    if (body[0]! > 1 && body.every((w) => w === body[0])) return d;
  }
  return null;
}

const TIME_FORMATS: TimestampFormat[] = ['iso', 'M/D/YYYY H:MM', 'D/M/YYYY H:MM'];

/** The first timestamp format that reads every sampled cell of a column with a constant step. */
function timestampFormatOf(cells: string[]): { format: TimestampFormat; times: number[] } | null {
  for (const format of TIME_FORMATS) {
    try {
      const times = cells.map((c) => parseTimestamp(c, format, () => ''));
      const step = times[1]! - times[0]!;
      if (step > 0 && times.every((t, i) => i === 0 || t - times[i - 1]! === step)) return { format, times };
    } catch {
      // not this format
    }
  }
  return null;
}

/** Whether an all-numeric first row is a header of node ids rather than the first step's readings. */
function numericHeader(row: string[], body: string[][]): boolean {
  if (!row.every(isInteger) || new Set(row).size !== row.length) return false;
  const ids = row.map(Number);
  // 0..N-1 or 1..N: column numbers.
  if (ids.every((v, i) => v === i) || ids.every((v, i) => v === i + 1)) return true;
  // Sensor ids far outside every column's readings (la-loop: 773869 over speeds of 0..70).
  let outside = 0;
  row.forEach((_, c) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of body) {
      const v = Number(r[c]);
      if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    }
    if (ids[c]! < lo || ids[c]! > hi) outside++;
  });
  return outside > row.length / 2;
}

function textCandidate(path: string, file: string): FileCandidate {
  const text = splitLines(readTextFile(path), path);
  const lines = text.lines;
  if (lines.length === 0) return other(file, 'empty');
  if (lines.length === 1) return other(file, 'a single line');
  const delimiter = pickDelimiter(lines);
  if (!delimiter) return other(file, 'one column, or rows of different widths');
  const head = lines.slice(0, HEAD_LINES).map((l) => splitFields(l, delimiter));
  const total = lines.length;
  const width = head[1]?.length ?? head[0]!.length;
  const d = delimiter === ',' ? '' : `, delimiter ${delimiter === '\t' ? 'tab' : delimiter === 'whitespace' ? 'whitespace' : `"${delimiter}"`}`;
  const delimiterSpec = delimiter === ',' ? {} : { delimiter };

  // node2vec text: "N D", then N lines "index v1..vD".
  const [n2vN, n2vD] = head[0]!.map(Number);
  if (head[0]!.length === 2 && head[0]!.every(isInteger) && n2vD! >= 3 && total === n2vN! + 1 && head[1]!.length === n2vD! + 1) {
    return other(file, `node2vec embedding of ${n2vN} nodes; add it under attributes.embeddings by hand`);
  }
  // Timestamp column: the first column whose cells (after a possible header) read as times with a constant step.
  const sample = head.slice(1, 51);
  let tsCol = -1;
  let times: { format: TimestampFormat; times: number[] } | null = null;
  for (let c = 0; c < width && tsCol < 0; c++) {
    const cells = sample.map((r) => r[c] ?? '');
    if (cells.some(isNumber) || cells.length < 2) continue;
    times = timestampFormatOf(cells);
    if (times) tsCol = c;
  }
  const isTime = (cell: string) => {
    try {
      parseTimestamp(cell, times!.format, () => '');
      return true;
    } catch {
      return false;
    }
  };
  const hasTextHeader = head[0]!.some((c, k) => (k === tsCol ? !isTime(c) : !isNumber(c) && !isGap(c)));
  const body = hasTextHeader ? head.slice(1) : head;
  const header = hasTextHeader ? head[0]!.map(unquote) : null;

  // Coordinates table (lat/lon or x/y columns): an attribute, not the series.
  if (header && header.filter((h) => /^(lat|latitude|lon|lng|long|longitude|x|y)$/i.test(h)).length >= 2) {
    return other(file, `coordinates table (${header.join(', ')}); add it under attributes.coords by hand`);
  }

  // Edge list: "from to [weight]" with integer (or id) endpoints.
  if (tsCol < 0 && (width === 2 || width === 3)) {
    const shaped = body.every((r) => r.length === width && (width === 2 || isNumber(r[2]!)) && r[0]!.trim() !== '' && r[1]!.trim() !== '');
    // Endpoints are node indices, or ids under a header that names the two ends.
    const namedEnds = header !== null && /^(from|source|src|origin|start|i|u|node_?1|o)/i.test(header[0]!) && /^(to|target|dst|dest|destination|end|j|v|node_?2|d)/i.test(header[1]!);
    if (shaped && (namedEnds || body.every((r) => isInteger(r[0]!) && isInteger(r[1]!)))) {
      const all = lines.slice(hasTextHeader ? 1 : 0).flatMap((l) => splitFields(l, delimiter).slice(0, 2).map(unquote));
      const integer = all.every((c) => /^\d+$/.test(c));
      const nums = integer ? all.map(Number) : [];
      const min = integer ? Math.min(...nums) : 0;
      const max = integer ? Math.max(...nums) : 0;
      const distance = header !== null && header.length === 3 && /dist|cost|length|km|meter|metre/i.test(header[2]!);
      const spec: Record<string, unknown> = { format: 'edge-list', file, ...(hasTextHeader ? { header: true } : {}) };
      if (distance) spec['weight'] = 'gaussian-distance';
      const edges = total - (hasTextHeader ? 1 : 0);
      return {
        file,
        role: 'graph',
        spec,
        edgeRefs: { ids: [...new Set(all)], integer, min, max },
        ...(integer ? { nodes: max + 1 } : {}),
        describe: `${file} (edge list, ${edges} edges${width === 3 ? (distance ? `, weights read as distances ("${header![2]}")` : ', weighted') : ', unweighted'})`,
      };
    }
  }

  const numericBody = body.every((r) => r.every((c, k) => k === tsCol || isNumber(c) || isGap(c)));
  if (!numericBody) return other(file, 'text cells in the data rows');
  const hasHeader = hasTextHeader || numericHeader(head[0]!, head.slice(1));
  const rows = total - (hasHeader ? 1 : 0);

  // A square numeric matrix: the graph.
  if (tsCol < 0 && rows === width) {
    return { file, role: 'graph', nodes: width, spec: { format: 'dense-csv', file, ...(hasHeader ? { header: true } : {}), ...delimiterSpec }, describe: `${file} (dense ${width}x${width} matrix${d})` };
  }
  const N = width - (tsCol >= 0 ? 1 : 0);
  if (N < 2) return other(file, `${N} value column`);
  const ids = hasHeader ? head[0]!.map(unquote).filter((_, c) => c !== tsCol) : undefined;
  const spec: Record<string, unknown> = { format: 'wide-csv', file, header: hasHeader, ...delimiterSpec };
  if (tsCol >= 0) {
    spec['timestampColumn'] = header ? header[tsCol]! : tsCol;
    if (times!.format !== 'iso') spec['timestampFormat'] = times!.format;
  }
  const what = [`${rows} steps x ${N} nodes`, hasHeader ? `header of node ids (${ids!.slice(0, 3).join(', ')}${N > 3 ? ', ...' : ''})` : 'no header: node ids 0..N-1', tsCol >= 0 ? `timestamps in column ${tsCol + 1} (${times!.format})` : 'no timestamps'];
  return {
    file,
    role: 'series',
    nodes: N,
    steps: rows,
    spec,
    ...(ids ? { nodeIds: ids } : {}),
    ...(times ? { times: [times.times[0]!, times.times[1]!] as [number, number] } : {}),
    describe: `${file} (wide CSV${d}, ${what.join(', ')})`,
  };
}

/** Cell values of a series file that may mean "no reading": gaps (must be declared) and candidates to report. */
export interface MissingScan {
  gaps: number;
  zeros: number;
  cells: number;
  /** A negative value every negative cell holds (e.g. -1, -9999), when there is exactly one. */
  sentinel?: number;
  sentinelCount?: number;
}

/** Scan every value cell of a wide CSV (the chosen series only: detection reads just the heads). */
export function scanWideCsv(path: string, spec: Record<string, unknown>): MissingScan {
  const t = splitLines(readTextFile(path), path);
  const delimiter = (spec['delimiter'] as Delimiter | undefined) ?? ',';
  const first = spec['header'] ? 1 : 0;
  const tsCol = typeof spec['timestampColumn'] === 'number' ? spec['timestampColumn'] : spec['timestampColumn'] !== undefined ? splitFields(t.lines[0]!, delimiter).map(unquote).indexOf(spec['timestampColumn'] as string) : -1;
  const scan: MissingScan = { gaps: 0, zeros: 0, cells: 0 };
  const negatives = new Map<number, number>();
  for (let k = first; k < t.lines.length; k++) {
    const cells = splitFields(t.lines[k]!, delimiter);
    for (let c = 0; c < cells.length; c++) {
      if (c === tsCol) continue;
      scan.cells++;
      const v = Number(cells[c]);
      if (isGap(cells[c]!) || !Number.isFinite(v)) scan.gaps++;
      else if (v === 0) scan.zeros++;
      else if (v < 0) negatives.set(v, (negatives.get(v) ?? 0) + 1);
    }
  }
  if (negatives.size === 1) [[scan.sentinel, scan.sentinelCount]] = [...negatives] as [[number, number]];
  return scan;
}

/** The same scan over an array's values. */
export function scanArray(values: ArrayLike<number>): MissingScan {
  const scan: MissingScan = { gaps: 0, zeros: 0, cells: values.length };
  const negatives = new Map<number, number>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) scan.gaps++;
    else if (v === 0) scan.zeros++;
    else if (v < 0) negatives.set(v, (negatives.get(v) ?? 0) + 1);
  }
  if (negatives.size === 1) [[scan.sentinel, scan.sentinelCount]] = [...negatives] as [[number, number]];
  return scan;
}

/** A manifest id from a folder name: lowercase, [a-z0-9._-], starting with a letter or digit. */
export function idFromFolder(folder: string): string {
  const id = basename(folder).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '');
  return id || 'city';
}
