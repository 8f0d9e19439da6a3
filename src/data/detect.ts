/**
 * Auto-detection of a city folder that has no city.json: which file holds the series and which the
 * graph, and how to read them (data/detect-files.ts classifies each file). The result is a manifest
 * as `gpd data init` writes it, plus what was inferred and what could not be, in words.
 *
 * The rules, in order: files pinned with `series` / `graph` win; otherwise a folder must hold exactly
 * one series candidate and one graph candidate, where a candidate whose node count disagrees with the
 * other side's single candidate is set aside (and named). Two candidates, or none, is an error naming
 * the files, never a guess.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError } from './city.js';
import { readArray } from './loaders/npy.js';
import { idFromFolder, scanArray, scanWideCsv, sniffFile, type FileCandidate, type MissingScan } from './detect-files.js';

export interface DetectOptions {
  /** Sampling interval in minutes, for files without timestamps (checked against them otherwise). */
  intervalMinutes?: number;
  /** Manifest id (default: from the folder name). */
  id?: string;
  /** The series file to use (`name`, or `name:key` for an .npz member), when several qualify. */
  series?: string;
  /** The graph file to use, when several qualify. */
  graph?: string;
}

export interface CityDetection {
  folder: string;
  /** The manifest (JSON), without `intervalMinutes` when it could not be inferred. */
  manifest: Record<string, unknown>;
  intervalMinutes?: number;
  series: FileCandidate;
  graph: FileCandidate;
  /** What was inferred, one line each. */
  inferred: string[];
  /** What could not be inferred and how to supply it. */
  unknown: string[];
  /** Candidate missing-value markers and files set aside. */
  notes: string[];
}

const label = (c: FileCandidate) => c.describe;
const list = (cs: FileCandidate[]) => cs.map((c) => `  ${label(c)}`).join('\n');

function pinned(cs: FileCandidate[], name: string, role: string, folder: string): FileCandidate[] {
  const [file, key] = name.includes(':') ? [name.slice(0, name.lastIndexOf(':')), name.slice(name.lastIndexOf(':') + 1)] : [name, undefined];
  const hits = cs.filter((c) => c.file === file && (key === undefined || c.spec?.['key'] === key));
  if (hits.length === 0) throw new DataError(`${folder}: --${role} ${name} is not a ${role} file there${cs.length ? `; ${role} candidates:\n${list(cs)}` : ` (no ${role} candidates found)`}`);
  return hits;
}

/** Whether a graph candidate fits a series of `N` nodes (and ids). */
function graphFits(g: FileCandidate, s: FileCandidate): boolean {
  if (g.edgeRefs) {
    const ids = new Set(s.nodeIds ?? []);
    if (g.edgeRefs.ids.every((r) => ids.has(r))) return true;
    return g.edgeRefs.integer && g.edgeRefs.max < s.nodes! + (g.edgeRefs.min >= 1 ? 1 : 0);
  }
  return g.nodes !== undefined && s.nodes !== undefined && g.nodes >= s.nodes;
}

function choose(folder: string, series: FileCandidate[], graphs: FileCandidate[], others: FileCandidate[], notes: string[]): [FileCandidate, FileCandidate] {
  const looked = () => (others.length ? `\nother files looked at:\n${list(others)}` : '');
  if (series.length + graphs.length + others.length === 0) throw new DataError(`${folder} holds no city.json and no data files to detect`);
  if (series.length === 0) {
    throw new DataError(
      `${folder}: no series file found (expected a wide CSV with one row per step and one column per node, a .npy/.npz array [T, N] or [T, N, F], or node-link JSON)` +
        (graphs.length ? `\ngraph candidates:\n${list(graphs)}` : '') +
        looked(),
    );
  }
  if (graphs.length === 0) {
    throw new DataError(`${folder}: no graph file found (expected a dense N x N adjacency CSV, an edge list "from to [weight]", a square .npy/.npz array or node-link JSON)\nseries candidates:\n${list(series)}${looked()}`);
  }
  // One side settled: set aside the other side's candidates of another size.
  if (graphs.length === 1 && series.length > 1) {
    const fit = series.filter((s) => graphFits(graphs[0]!, s) && (graphs[0]!.edgeRefs || s.nodes === graphs[0]!.nodes));
    for (const s of series) if (!fit.includes(s)) notes.push(`set aside ${label(s)}: it does not match the graph's nodes`);
    if (fit.length === 1) series = fit;
  }
  if (series.length === 1 && graphs.length > 1) {
    const fit = graphs.filter((g) => graphFits(g, series[0]!));
    for (const g of graphs) if (!fit.includes(g)) notes.push(`set aside ${label(g)}: it does not match the series' ${series[0]!.nodes} nodes`);
    if (fit.length === 1) graphs = fit;
  }
  if (series.length > 1) throw new DataError(`${folder}: ${series.length} candidate series files, pick one with --series <file> (gpd data init) or write city.json:\n${list(series)}`);
  if (graphs.length > 1) throw new DataError(`${folder}: ${graphs.length} candidate graph files, pick one with --graph <file> (gpd data init) or write city.json:\n${list(graphs)}`);
  return [series[0]!, graphs[0]!];
}

/** The adjacency spec lined up with the series (node references, base, selection), with what it assumed. */
function adjacencySpec(g: FileCandidate, s: FileCandidate, inferred: string[], notes: string[]): Record<string, unknown> {
  const spec = { ...g.spec! };
  const N = s.nodes!;
  if (g.edgeRefs) {
    const ids = new Set(s.nodeIds ?? []);
    const byId = s.nodeIds !== undefined && g.edgeRefs.ids.every((r) => ids.has(r)) && !(g.edgeRefs.integer && s.nodeIds.every((id, i) => id === String(i)));
    if (byId) {
      spec['nodeRef'] = 'id';
      inferred.push('graph: edge ends are the series\' node ids');
    } else if (!g.edgeRefs.integer) {
      const missing = g.edgeRefs.ids.find((r) => !ids.has(r));
      throw new DataError(`${g.file}: edge end "${missing}" is not one of the series' node ids (${s.file})`);
    } else if (g.edgeRefs.min >= 1 && g.edgeRefs.max === N) {
      spec['indexBase'] = 1;
      inferred.push(`graph: edge ends are 1-based node indices (1..${N})`);
    } else if (g.edgeRefs.max >= N) {
      throw new DataError(`${g.file}: edge end ${g.edgeRefs.max} but the series ${s.file} has ${N} nodes (0..${N - 1})`);
    } else {
      inferred.push(`graph: edge ends are 0-based node indices`);
    }
    if (spec['weight'] === 'gaussian-distance') inferred.push('graph: weights read as distances, turned into similarities exp(-(d/sigma)^2) (adjacency.weight "gaussian-distance")');
  } else if (g.nodes !== undefined && g.nodes > N) {
    spec['select'] = 'first-n';
    notes.push(`the graph has ${g.nodes} nodes, the series ${N}: the series are taken to be the graph's first ${N} nodes ("select": "first-n"); check that they are`);
  }
  if (!g.edgeRefs && g.spec?.['format'] !== 'node-link') notes.push('graph weights are used as given (similarities); if they are distances, set adjacency.weight to "gaussian-distance" in city.json');
  return spec;
}

function scanSeries(folder: string, s: FileCandidate): MissingScan | null {
  const format = s.spec!['format'];
  if (format === 'wide-csv') return scanWideCsv(join(folder, s.file), s.spec!);
  if (format === 'npy' || format === 'npz') return scanArray(readArray(join(folder, s.file), s.spec!['key'] as string | undefined).data);
  return null;
}

function missingMarkers(scan: MissingScan, spec: Record<string, unknown>, inferred: string[], notes: string[]): void {
  const share = (n: number) => `${((100 * n) / scan.cells).toFixed(2)}% of readings`;
  if (scan.gaps > 0) {
    spec['missing'] = 'nan';
    inferred.push(`missing readings: ${scan.gaps} empty or NaN cells (${share(scan.gaps)}) are read as missing ("missing": "nan")`);
  }
  if (scan.zeros > 0) notes.push(`0 appears in ${share(scan.zeros)}; if 0 means "no reading" (as in many loop-detector speed files), add "missing": 0 to series in city.json`);
  if (scan.sentinel !== undefined) notes.push(`every negative reading is ${scan.sentinel} (${share(scan.sentinelCount!)}): a missing-value marker? then add "missing": ${scan.sentinel} to series in city.json`);
}

export function detectCityFolder(folderPath: string, opts: DetectOptions = {}): CityDetection {
  const folder = resolve(folderPath);
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new DataError(`${folderPath} is not a folder`);
  const files = readdirSync(folder).filter((f) => statSync(join(folder, f)).isFile()).sort();
  const all = files.flatMap((f) => sniffFile(folder, f));
  let series = all.filter((c) => c.role === 'series');
  let graphs = all.filter((c) => c.role === 'graph');
  const others = all.filter((c) => c.role === 'other');
  if (opts.series) series = pinned(series, opts.series, 'series', folder);
  if (opts.graph) graphs = pinned(graphs, opts.graph, 'graph', folder);
  const notes: string[] = [];
  const [s, g] = choose(folder, series, graphs, others, notes);
  for (const o of others) notes.push(`not used: ${label(o)}`);

  const inferred = [`series: ${label(s)}`, `graph: ${label(g)}`];
  const unknown: string[] = [];
  const seriesSpec = { ...s.spec! };
  const scan = scanSeries(folder, s);
  if (scan) missingMarkers(scan, seriesSpec, inferred, notes);
  const adjacency = adjacencySpec(g, s, inferred, notes);

  let intervalMinutes: number | undefined;
  if (s.times) {
    intervalMinutes = (s.times[1] - s.times[0]) / 60_000;
    inferred.push(`interval: ${intervalMinutes} min (from the timestamps; first step ${new Date(s.times[0]).toISOString().slice(0, 16)})`);
    if (opts.intervalMinutes !== undefined && opts.intervalMinutes !== intervalMinutes) {
      throw new DataError(`${folder}: --interval ${opts.intervalMinutes} but the timestamps of ${s.file} step by ${intervalMinutes} min`);
    }
  } else if (opts.intervalMinutes !== undefined) {
    intervalMinutes = opts.intervalMinutes;
    inferred.push(`interval: ${intervalMinutes} min (given; ${s.file} has no timestamps)`);
  } else {
    unknown.push(`interval: ${s.file} has no timestamps; pass --interval <minutes> (e.g. --interval 5)`);
  }
  const id = opts.id ?? idFromFolder(folder);
  const manifest: Record<string, unknown> = {
    id,
    description: `detected by gpd data init in ${folder}`,
    ...(intervalMinutes !== undefined ? { intervalMinutes } : {}),
    series: seriesSpec,
    adjacency,
  };
  return { folder, manifest, ...(intervalMinutes !== undefined ? { intervalMinutes } : {}), series: s, graph: g, inferred, unknown, notes };
}

/** The detection in words: what was picked and inferred, what was not, and the notes. */
export function formatDetection(d: CityDetection): string {
  const lines = [`${d.folder}:`, ...d.inferred.map((l) => `  inferred  ${l}`), ...d.unknown.map((l) => `  unknown   ${l}`), ...d.notes.map((l) => `  note      ${l}`)];
  return lines.join('\n');
}
