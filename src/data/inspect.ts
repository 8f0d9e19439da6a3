/**
 * `gpd data inspect`: the numbers a user checks before training on a city (size, time span,
 * gaps, graph shape, value ranges), computed from the loaded City only.
 */
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { stepsPerDay, type City } from './city.js';

export interface FeatureStats {
  name: string;
  /** Observed (unmasked) values the stats are over. */
  observed: number;
  mean: number;
  /** Population std (ddof 0), like numpy's default. */
  std: number;
  min: number;
  max: number;
}

export interface DegreeStats {
  /** Degree = distinct neighbours in either edge direction, self loops excluded (the 1-hop subgraph size - 1). */
  min: number;
  mean: number;
  max: number;
  /** Nodes with no neighbour at all. */
  isolated: number;
}

export interface InspectReport {
  id: string;
  source?: string;
  nodes: number;
  steps: number;
  /** null when it is unknown (a detected folder without timestamps). */
  intervalMinutes: number | null;
  features: string[];
  units?: string;
  /** ISO times of the first and last step (null without timestamps); days = steps / steps per day (null when the interval is unknown). */
  timeSpan: { start: string | null; end: string | null; days: number | null };
  /** The part of each day the series covers, when not the whole day (City.day): first reading HH:MM, readings per day. */
  daily: { start: string; steps: number } | null;
  /** Share of (step, node, feature) cells flagged missing in the mask. */
  missingShare: number;
  graph: {
    /** Non-zero off-diagonal entries (a symmetric pair counts twice). */
    edges: number;
    selfLoops: number;
    symmetric: boolean;
    /** edges / (N * (N - 1)). */
    density: number;
    degree: DegreeStats;
  };
  featureStats: FeatureStats[];
  attributes: { coordKind: string | null; embeddings: Record<string, number>; categories: string[] };
  /**
   * Data files the manifest names by an absolute path or outside its own folder tree: allowed (data
   * often live elsewhere), but shown, so a manifest from someone else cannot read a file unnoticed.
   */
  externalFiles: { key: string; written: string; path: string; why: 'absolute' | 'outside the manifest folder' }[];
}

const clock = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/** The city's manifest files that are absolute or lead out of the manifest's folder. */
function externalFiles(city: City): InspectReport['externalFiles'] {
  if (!city.manifest) return [];
  const home = dirname(city.manifest.path);
  const out: InspectReport['externalFiles'] = [];
  for (const f of city.manifest.files) {
    const rel = relative(home, f.path);
    if (isAbsolute(f.written)) out.push({ ...f, why: 'absolute' });
    else if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) out.push({ ...f, why: 'outside the manifest folder' });
  }
  return out;
}

/** `intervalKnown: false`: the city's interval is a placeholder (loadDetectedCity with allowUnknownInterval). */
export function inspectCity(city: City, opts: { intervalKnown?: boolean } = {}): InspectReport {
  const known = opts.intervalKnown ?? true;
  const { N, T, F } = city;
  const features = city.featureNames ?? Array.from({ length: F }, (_, f) => `feature${f}`);
  let missing = 0;
  if (city.mask) for (let i = 0; i < city.mask.length; i++) missing += city.mask[i] === 0 ? 1 : 0;
  const ts = city.timestamps;
  const report: InspectReport = {
    id: city.id,
    nodes: N,
    steps: T,
    intervalMinutes: known ? city.intervalMinutes : null,
    features,
    timeSpan: {
      start: ts ? new Date(ts[0]!).toISOString() : null,
      end: ts ? new Date(ts[T - 1]!).toISOString() : null,
      days: known ? T / stepsPerDay(city) : null,
    },
    daily: city.day ? { start: clock(city.day.startMinutes), steps: city.day.steps } : null,
    missingShare: missing / (T * N * F),
    graph: graphStats(city.adjacency, N),
    featureStats: features.map((name, f) => featureStats(city, f, name)),
    attributes: {
      coordKind: city.attributes.coords ? (city.attributes.coordKind ?? 'unknown') : null,
      embeddings: Object.fromEntries(Object.entries(city.attributes.embeddings ?? {}).map(([k, e]) => [k, e.dim])),
      categories: Object.keys(city.attributes.categories ?? {}),
    },
    externalFiles: externalFiles(city),
  };
  if (city.source !== undefined) report.source = city.source;
  if (city.units !== undefined) report.units = city.units;
  return report;
}

function graphStats(adj: Float32Array, N: number): InspectReport['graph'] {
  let edges = 0;
  let selfLoops = 0;
  let symmetric = true;
  const degree = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    if (adj[i * N + i]! !== 0) selfLoops++;
    for (let j = 0; j < N; j++) {
      if (i === j) continue;
      const a = adj[i * N + j]!;
      const b = adj[j * N + i]!;
      if (a !== 0) edges++;
      if (a !== b) symmetric = false;
      if (a !== 0 || b !== 0) degree[i]!++;
    }
  }
  let min = Infinity;
  let max = 0;
  let sum = 0;
  let isolated = 0;
  for (const d of degree) {
    min = Math.min(min, d);
    max = Math.max(max, d);
    sum += d;
    if (d === 0) isolated++;
  }
  return {
    edges,
    selfLoops,
    symmetric,
    density: N > 1 ? edges / (N * (N - 1)) : 0,
    degree: { min: N ? min : 0, mean: N ? sum / N : 0, max, isolated },
  };
}

function featureStats(city: City, f: number, name: string): FeatureStats {
  const { series, mask, F } = city;
  let n = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = f; i < series.length; i += F) {
    if (mask && mask[i] === 0) continue;
    const v = series[i]!;
    n++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = n ? sum / n : NaN;
  // Second pass: numerically safer than E[x^2] - E[x]^2 for large offsets like speeds ~60.
  let ss = 0;
  for (let i = f; i < series.length; i += F) {
    if (mask && mask[i] === 0) continue;
    ss += (series[i]! - mean) ** 2;
  }
  return { name, observed: n, mean, std: n ? Math.sqrt(ss / n) : NaN, min: n ? min : NaN, max: n ? max : NaN };
}

function num(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(digits)).toString();
}

function isoMinute(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ');
}

/** Aligned `key: value` lines. */
export function formatInspect(r: InspectReport): string {
  const rows: Array<[string, string]> = [['id', r.id]];
  if (r.source) rows.push(['source', r.source]);
  rows.push(
    ['nodes', String(r.nodes)],
    ['steps', String(r.steps)],
    ['interval', r.intervalMinutes === null ? 'unknown (no timestamps; pass --interval <minutes>)' : `${num(r.intervalMinutes)} min`],
    ...(r.daily ? [['daily window', `${r.daily.steps} readings from ${r.daily.start} (windows run across the overnight gap)`] as [string, string]] : []),
    ['features', `${r.features.join(', ')}${r.units ? ` (${r.units})` : ''}`],
    [
      'time span',
      r.timeSpan.start && r.timeSpan.end
        ? `${isoMinute(r.timeSpan.start)} .. ${isoMinute(r.timeSpan.end)} UTC (${num(r.timeSpan.days ?? NaN)} days)`
        : r.timeSpan.days === null
          ? 'unknown (no timestamps)'
          : `${num(r.timeSpan.days)} days (no timestamps)`,
    ],
    ['missing share', `${(r.missingShare * 100).toFixed(2)}%`],
    ['edges', `${r.graph.edges} directed (${r.graph.symmetric ? 'symmetric' : 'asymmetric'}), ${r.graph.selfLoops} self loops`],
    ['graph density', num(r.graph.density)],
    [
      'degree',
      `min ${r.graph.degree.min}, mean ${num(r.graph.degree.mean)}, max ${r.graph.degree.max}, isolated ${r.graph.degree.isolated}`,
    ],
  );
  for (const s of r.featureStats) {
    rows.push([`${s.name} stats`, `mean ${num(s.mean)}, std ${num(s.std)}, min ${num(s.min)}, max ${num(s.max)} over ${s.observed} observed`]);
  }
  rows.push(['coordinates', r.attributes.coordKind ?? 'none']);
  const emb = Object.entries(r.attributes.embeddings);
  rows.push(['embeddings', emb.length ? emb.map(([k, d]) => `${k} (${d})`).join(', ') : 'none']);
  rows.push(['categories', r.attributes.categories.length ? r.attributes.categories.join(', ') : 'none']);
  for (const f of r.externalFiles) rows.push(['note', `${f.key} reads ${f.path} (${f.why === 'absolute' ? 'an absolute path' : "outside the manifest's folder"})`]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join('\n');
}
