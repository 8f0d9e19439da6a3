/**
 * `loadCity`: manifest (or a folder holding `city.json`, or a folder of files to detect) -> validated
 * City. Reads the series first (it fixes N and the node ids), then lines the adjacency and node
 * attributes up with it.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { quoteText } from '../util/errors.js';
import { DataError, type City, type DailyWindow } from './city.js';
import { parseTimestamp, readCsvMatrix, readEdgeList, type Edge, type SeriesData } from './loaders/csv.js';
import { detectCityFolder, type CityDetection, type DetectOptions } from './detect.js';
import {
  manifestFiles,
  parseManifest,
  readManifest,
  type AdjacencySpec,
  type LoadedManifest,
  type SeriesSpec,
  type WeightSpec,
} from './loaders/manifest.js';
import { nodeLinkDoc, nodeLinkEdges, nodeLinkSeries, type DocCache } from './loaders/nodelink.js';
import { loadAttributes } from './load-attributes.js';
import { readArray, readNpz, type NpyArray } from './loaders/npy.js';
import {
  checkAdjacencyValues,
  checkSquare,
  isMissingValue,
  missingSpecOf,
  selectRows,
  validateCity,
  checkDailyWindow,
  arrayMatrix,
  type MissingSpec,
  type RowSelection,
} from './validate.js';
import { readWideCsvSeries } from './loaders/wide-csv.js';

/** The file name `loadCity` looks for inside a folder. */
export const MANIFEST_FILE_NAME = 'city.json';

export interface LoadOptions {
  /** Interval for a folder without city.json whose files carry no timestamps (data/detect.ts). */
  intervalMinutes?: number;
  /** Fewest steps accepted (default: one 18-step window; forecasting reads 12 recent steps). */
  minSteps?: number;
}

/**
 * Load a city from a `*.city.json` / `city.json` manifest, or from a folder: its `city.json`, or
 * without one the files detected in it (data/detect.ts; `City.source` names the files picked).
 */
export function loadCity(pathToManifestOrFolder: string, opts: LoadOptions = {}): City {
  let file = pathToManifestOrFolder;
  if (existsSync(file) && statSync(file).isDirectory()) {
    file = join(file, MANIFEST_FILE_NAME);
    if (!existsSync(file)) return loadDetectedCity(pathToManifestOrFolder, opts).city;
  } else if (!existsSync(file)) {
    throw new DataError(`no city manifest or folder at ${pathToManifestOrFolder}`);
  }
  return loadCityFromManifest(readManifest(file), opts);
}

/** A placeholder interval for `allowUnknownInterval`: the result's interval means nothing. */
const UNKNOWN_INTERVAL = 60;

/**
 * A folder without city.json, loaded through detection. Without timestamps or `intervalMinutes` the
 * interval is unknown: an error saying how to give it, unless `allowUnknownInterval` (`gpd data
 * inspect` still reports nodes, steps and the graph), where `intervalKnown` is false and the City's
 * interval a placeholder.
 */
export function loadDetectedCity(folder: string, opts: LoadOptions & DetectOptions & { allowUnknownInterval?: boolean } = {}): { city: City; detection: CityDetection; intervalKnown: boolean } {
  const detection = detectCityFolder(folder, opts);
  const intervalKnown = detection.intervalMinutes !== undefined;
  if (!intervalKnown && !opts.allowUnknownInterval) {
    throw new DataError(`${folder} has no city.json and ${detection.unknown.join('; ')}, or write city.json with \`gpd data init ${folder} --interval <minutes>\``);
  }
  const raw = { ...detection.manifest, intervalMinutes: detection.intervalMinutes ?? UNKNOWN_INTERVAL };
  const path = join(detection.folder, MANIFEST_FILE_NAME);
  const manifest = parseManifest(raw, `${path} (detected)`);
  const city = loadCityFromManifest({ manifest, path, resolvePath: (p) => (isAbsolute(p) ? p : resolve(detection.folder, p)) }, opts);
  city.source = `detected in ${detection.folder}: series ${detection.series.describe}; graph ${detection.graph.describe}`;
  return { city, detection, intervalKnown };
}

export function loadCityFromManifest(loaded: LoadedManifest, opts: LoadOptions = {}): City {
  const { manifest: m, path, resolvePath } = loaded;
  const docs: DocCache = new Map();
  const source = [`manifest ${path}`];
  let day: DailyWindow | undefined;
  if (m.daily) {
    const [h, mi] = m.daily.start.split(':').map(Number) as [number, number];
    day = { startMinutes: h * 60 + mi, steps: m.daily.steps };
    checkDailyWindow(day, m.intervalMinutes, `${path}: "daily"`);
    if (m.daily.inferred) source.push(`daily window ${m.daily.start} + ${m.daily.steps} x ${m.intervalMinutes} min inferred${m.daily.note ? `: ${m.daily.note}` : ''}`);
  }
  const s = loadSeries(m.series, m.intervalMinutes, resolvePath, docs, day);

  let timestamps = s.timestamps;
  if (m.start !== undefined) {
    const start = typeof m.start === 'string' ? { time: m.start, inferred: false, note: undefined } : m.start;
    const t0 = parseStart(start.time, path);
    if (timestamps && timestamps[0] !== t0) {
      throw new DataError(`${path}: "start" ${start.time} disagrees with the file's first timestamp ${new Date(timestamps[0]!).toISOString()}`);
    }
    if (!timestamps) timestamps = stepTimes(t0, s.T, m.intervalMinutes, day, path);
    if (start.inferred) source.push(`start ${new Date(t0).toISOString()} inferred${start.note ? `: ${start.note}` : ''}`);
  }

  const adjacency = loadAdjacency(m.adjacency, s, resolvePath, docs);
  const attributes = loadAttributes(m.attributes, s, resolvePath, docs);
  if (m.featureNames && m.featureNames.length !== s.F) {
    throw new DataError(`${path}: "featureNames" lists ${m.featureNames.length} names but the series has F = ${s.F} features`);
  }
  const city: City = {
    id: m.id,
    intervalMinutes: m.intervalMinutes,
    nodeIds: s.nodeIds,
    T: s.T,
    N: s.N,
    F: s.F,
    series: s.series,
    adjacency,
    attributes,
    source: source.join('; '),
    manifest: { path, files: manifestFiles(loaded) },
  };
  if (day) city.day = day;
  if (s.mask) city.mask = s.mask;
  if (timestamps) city.timestamps = timestamps;
  if (m.units !== undefined) city.units = m.units;
  if (m.featureNames) city.featureNames = [...m.featureNames];
  validateCity(city, opts.minSteps);
  return city;
}

/** ISO time; no zone = UTC clock time (as timestamps in files are read). */
function parseStart(text: string, manifestPath: string): number {
  try {
    return parseTimestamp(text, 'iso', () => manifestPath);
  } catch {
    throw new DataError(`${manifestPath}: "start" ${quoteText(text)} is not an ISO time like 2020-10-01T00:00`);
  }
}

/**
 * The time of every step from the first one's: a regular clock, or with a daily window the day's
 * readings and then the next day's (the first reading may fall anywhere in the window).
 */
function stepTimes(t0: number, T: number, intervalMinutes: number, day: DailyWindow | undefined, path: string): Float64Array {
  const step = intervalMinutes * 60_000;
  const out = new Float64Array(T);
  if (!day) {
    for (let t = 0; t < T; t++) out[t] = t0 + t * step;
    return out;
  }
  const minutes = ((((t0 / 60_000) % 1440) + 1440) % 1440) - day.startMinutes;
  const slot0 = (((minutes % 1440) + 1440) % 1440) / intervalMinutes;
  if (!Number.isInteger(slot0) || slot0 >= day.steps) throw new DataError(`${path}: "start" is not one of the daily window's reading times`);
  const serviceStart = t0 - slot0 * step;
  for (let t = 0; t < T; t++) out[t] = serviceStart + Math.floor((slot0 + t) / day.steps) * 86_400_000 + ((slot0 + t) % day.steps) * step;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Series

function loadSeries(spec: SeriesSpec, intervalMinutes: number, resolvePath: (p: string) => string, docs: DocCache, day: DailyWindow | undefined): SeriesData {
  const missing = missingSpecOf(spec.missing);
  switch (spec.format) {
    case 'wide-csv':
      return readWideCsvSeries(resolvePath(spec.file), {
        header: spec.header,
        delimiter: spec.delimiter,
        timestampColumn: spec.timestampColumn,
        timestampFormat: spec.timestampFormat,
        missing,
        intervalMinutes,
        ...(day ? { day } : {}),
        ...(spec.dayColumn !== undefined ? { dayColumn: spec.dayColumn } : {}),
        ...(spec.slotColumn !== undefined ? { slotColumn: spec.slotColumn } : {}),
      });
    case 'npy':
    case 'npz': {
      const file = resolvePath(spec.file);
      const arr = readArray(file, spec.key);
      const where = spec.key ? `${file} [${spec.key}]` : file;
      if (arr.shape.length !== 2 && arr.shape.length !== 3) {
        throw new DataError(`${where}: series array has shape (${arr.shape.join(', ')}), expected [T, N] or [T, N, F]`);
      }
      const [T, N, F = 1] = arr.shape as [number, number, number?];
      return arrayToSeries(arr.data, T, N, F, missing, where);
    }
    case 'npz-windows':
      return loadWindowedSeries(spec.files.map(resolvePath), spec.key, spec.horizonIndex, missing);
    case 'node-link':
      return nodeLinkSeries(nodeLinkDoc(docs, resolvePath(spec.file)), spec.idKey, spec.seriesKey, missing);
  }
}

function arrayToSeries(values: ArrayLike<number>, T: number, N: number, F: number, missing: MissingSpec, where: string): SeriesData {
  const series = new Float32Array(T * N * F);
  let mask: Uint8Array | undefined;
  for (let i = 0; i < series.length; i++) {
    const v = values[i]!;
    if (isMissingValue(v, missing)) {
      mask ??= new Uint8Array(series.length).fill(1);
      mask[i] = 0;
    } else if (!Number.isFinite(v)) {
      const f = i % F;
      const n = Math.floor(i / F) % N;
      const t = Math.floor(i / (F * N));
      const hint = Number.isNaN(v) ? ' (declare "missing": "nan" in the manifest if these are gaps)' : '';
      throw new DataError(`${where}: value ${v} at [${t}, ${n}, ${f}] (step ${t}, node ${n}, feature ${f}) is not finite${hint}`);
    } else {
      series[i] = v;
    }
  }
  const nodeIds = Array.from({ length: N }, (_, n) => String(n));
  return { nodeIds, T, N, F, series, mask };
}

/**
 * Sliding-window npz files ([samples, horizon, N, F] under `key`, consecutive samples one step
 * apart, files contiguous in time) -> one series: take horizon `h` of every sample, concatenate.
 */
function loadWindowedSeries(files: string[], key: string, h: number, missing: MissingSpec): SeriesData {
  const parts: { arr: NpyArray; where: string }[] = files.map((file) => ({ arr: readNpz(file, [key]).get(key)!, where: `${file} [${key}]` }));
  let N = -1;
  let F = -1;
  let T = 0;
  for (const { arr, where } of parts) {
    if (arr.shape.length !== 3 && arr.shape.length !== 4) {
      throw new DataError(`${where}: windows array has shape (${arr.shape.join(', ')}), expected [samples, horizon, N] or [samples, horizon, N, F]`);
    }
    const [, H, n, f = 1] = arr.shape as [number, number, number, number?];
    if (h >= H) throw new DataError(`${where}: horizonIndex ${h} is beyond the horizon axis of size ${H}`);
    if (N < 0) [N, F] = [n, f];
    else if (n !== N || f !== F) {
      throw new DataError(`${where}: windows have ${n} nodes x ${f} features, but ${parts[0]!.where} has ${N} x ${F}`);
    }
    T += arr.shape[0]!;
  }
  const values = new Float64Array(T * N * F);
  let t0 = 0;
  for (const { arr } of parts) {
    const [S, H] = arr.shape as [number, number];
    const per = N * F;
    for (let s = 0; s < S; s++) {
      const from = (s * H + h) * per;
      for (let k = 0; k < per; k++) values[(t0 + s) * per + k] = arr.data[from + k]!;
    }
    t0 += S;
  }
  return arrayToSeries(values, T, N, F, missing, parts.map((p) => p.where).join(' + '));
}

// ---------------------------------------------------------------------------------------------
// Adjacency

function loadAdjacency(spec: AdjacencySpec, s: SeriesData, resolvePath: (p: string) => string, docs: DocCache): Float32Array {
  const file = resolvePath(spec.file);
  let edges: Edge[];
  if (spec.format === 'node-link') {
    edges = nodeLinkEdges(nodeLinkDoc(docs, file), s.nodeIds, {
      source: spec.sourceKey,
      target: spec.targetKey,
      ...(spec.weightKey !== null ? { weight: spec.weightKey } : {}),
    });
  } else if (spec.format === 'edge-list') {
    const raw = readEdgeList(file, { header: spec.header, nodeRef: spec.nodeRef, indexBase: spec.indexBase }, s.nodeIds);
    if (spec.nodeRef === 'id' && spec.select !== 'all') throw new DataError(`${file}: "select" has no meaning when the edge list names nodes by id`);
    edges = selectEdges(raw, spec.select, s.N, file);
  } else {
    const m = spec.format === 'dense-csv' ? readCsvMatrix(file, { header: spec.header, delimiter: spec.delimiter }) : arrayMatrix(readArray(file, spec.key), file, spec.key);
    checkSquare(m, 'adjacency');
    checkAdjacencyValues(m);
    const rows = selectRows(m.rows, s.N, spec.select, `adjacency ${file}`);
    edges = [];
    for (let i = 0; i < s.N; i++) {
      for (let j = 0; j < s.N; j++) {
        const w = m.data[rows[i]! * m.cols + rows[j]!]!;
        if (w !== 0) edges.push({ from: i, to: j, weight: w, where: m.locate(rows[i]!, rows[j]!) });
      }
    }
  }
  for (const e of edges) {
    if (!Number.isFinite(e.weight)) throw new DataError(`${e.where}: adjacency weight ${e.weight} is not finite`);
    if (e.weight < 0) throw new DataError(`${e.where}: negative adjacency weight ${e.weight} (edge ${e.from} -> ${e.to})`);
  }
  // A zero weight is "no edge" in every format (edge lists often spell out the zeros).
  edges = edges.filter((e) => e.weight > 0);
  const weighted = applyWeight(edges, spec.weight, file);
  const N = s.N;
  const adj = new Float32Array(N * N);
  const whereOf = new Map<number, string>();
  for (const e of weighted) {
    const k = e.from * N + e.to;
    const prev = whereOf.get(k);
    if (prev !== undefined && adj[k] !== Math.fround(e.weight)) {
      throw new DataError(`${e.where}: edge ${e.from} -> ${e.to} appears again with a different weight (first at ${prev})`);
    }
    whereOf.set(k, e.where);
    adj[k] = e.weight;
  }
  if (spec.symmetrize) {
    for (let i = 0; i < N; i++) {
      for (let j = i + 1; j < N; j++) {
        const w = Math.max(adj[i * N + j]!, adj[j * N + i]!);
        adj[i * N + j] = w;
        adj[j * N + i] = w;
      }
    }
  }
  return adj;
}

/** Edge-list node indices -> series positions under the manifest's selection. */
function selectEdges(edges: Edge[], select: RowSelection, N: number, file: string): Edge[] {
  if (select === 'all') {
    for (const e of edges) {
      const bad = e.from >= N ? e.from : e.to >= N ? e.to : -1;
      if (bad >= 0) {
        throw new DataError(
          `${e.where}: node index ${bad} but the series has ${N} nodes (0..${N - 1}); if the graph covers more nodes, set "select": "first-n" or {"indices": [...]}`,
        );
      }
    }
    return edges;
  }
  const maxIndex = edges.reduce((m, e) => Math.max(m, e.from, e.to), -1);
  const rows = selectRows(select === 'first-n' ? Math.max(maxIndex + 1, N) : maxIndex + 1, N, select, `adjacency ${file}`);
  const pos = new Map(rows.map((r, i) => [r, i]));
  const out: Edge[] = [];
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (a !== undefined && b !== undefined) out.push({ ...e, from: a, to: b });
  }
  return out;
}


/**
 * Smallest weight a kept link gets: exp(-(d/sigma)^2) underflows to 0 in float32 for long links
 * (montevideo: 1991 m at sigma 174 m), and a link's existence (the 1-hop subgraph) must not
 * depend on the distance scale. Only an explicit `threshold` removes links.
 */
export const MIN_LINK_WEIGHT = 1e-30;

/**
 * Turn edge weights into similarities. 'gaussian-distance' reads weights as distances and maps
 * them to exp(-(d / sigma)^2), sigma = population std of the edge distances unless given
 * (DCRNN's kernel, over the listed edges only), and drops results below `threshold` (default 0).
 */
function applyWeight(edges: Edge[], weight: WeightSpec, file: string): Edge[] {
  if (weight === 'raw') return edges;
  if (weight === 'binary') return edges.map((e) => ({ ...e, weight: 1 }));
  const spec = weight === 'gaussian-distance' ? { sigma: 'std' as const, threshold: 0 } : weight;
  if (edges.length === 0) return edges;
  const sigma = typeof spec.sigma === 'number' ? spec.sigma : distanceStatistic(edges.map((e) => e.weight), spec.sigma);
  if (!(sigma > 0)) throw new DataError(`${file}: "gaussian-distance" sigma (${spec.sigma} of the edge distances) is ${sigma}; give "sigma" as a number`);
  return edges
    .map((e) => ({ ...e, weight: Math.max(Math.exp(-((e.weight / sigma) ** 2)), MIN_LINK_WEIGHT) }))
    .filter((e) => spec.threshold === 0 || e.weight >= spec.threshold);
}

function distanceStatistic(d: number[], stat: 'std' | 'mean' | 'median'): number {
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  if (stat === 'mean') return mean;
  if (stat === 'std') return Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length);
  const s = [...d].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// Node attributes

