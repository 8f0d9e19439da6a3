/**
 * networkx-style node-link JSON: { directed, nodes: [{ id, <series>: [T numbers], <x>, <y> }],
 * links: [{ source, target, weight }] } (montevideo-bus). Series, edges and coordinates all come
 * from the same document; errors name the file and the node or link index.
 */
import { quoteText } from '../../util/errors.js';
import { DataError } from '../city.js';
import { checkUniqueIds, isMissingValue, type MissingSpec } from '../validate.js';
import { readTextFile, type Edge, type SeriesData } from './csv.js';

export interface NodeLinkDoc {
  file: string;
  directed: boolean;
  nodes: Record<string, unknown>[];
  links: Record<string, unknown>[];
}

/** Parse and check the document's shape (callers reuse it for series, edges and coords). */
export function readNodeLinkDoc(file: string): NodeLinkDoc {
  let raw: unknown;
  try {
    raw = JSON.parse(readTextFile(file));
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(raw)) throw new DataError(`${file}: expected a JSON object with "nodes" and "links"`);
  const { nodes, links } = raw;
  if (!Array.isArray(nodes) || nodes.length === 0) throw new DataError(`${file}: "nodes" must be a non-empty array`);
  if (!Array.isArray(links)) throw new DataError(`${file}: "links" must be an array`);
  nodes.forEach((n, k) => {
    if (!isRecord(n)) throw new DataError(`${file}: nodes[${k}] is not an object`);
  });
  links.forEach((l, k) => {
    if (!isRecord(l)) throw new DataError(`${file}: links[${k}] is not an object`);
  });
  const doc: NodeLinkDoc = { file, directed: raw.directed !== false, nodes, links };
  return doc;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Follow a dotted key ("X.y") into a node object. */
function getPath(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (!isRecord(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

export function nodeLinkIds(doc: NodeLinkDoc, idKey: string): string[] {
  const ids = doc.nodes.map((n, k) => {
    const id = getPath(n, idKey);
    if (typeof id !== 'string' && typeof id !== 'number') throw new DataError(`${doc.file}: nodes[${k}] has no "${idKey}" (string or number)`);
    return String(id);
  });
  checkUniqueIds(ids, (k) => `${doc.file}, nodes[${k}]`);
  return ids;
}

/** Series [T, N, 1] from each node's `seriesKey` array; null entries are gaps if missing.nan. */
export function nodeLinkSeries(doc: NodeLinkDoc, idKey: string, seriesKey: string, missing: MissingSpec): SeriesData {
  const nodeIds = nodeLinkIds(doc, idKey);
  const N = nodeIds.length;
  const first = getPath(doc.nodes[0]!, seriesKey);
  if (!Array.isArray(first)) throw new DataError(`${doc.file}: nodes[0] (id ${nodeIds[0]}) has no "${seriesKey}" array`);
  const T = first.length;
  const series = new Float32Array(T * N);
  let mask: Uint8Array | undefined;
  doc.nodes.forEach((node, n) => {
    const ys = getPath(node, seriesKey);
    const where = `${doc.file}, nodes[${n}] (id ${nodeIds[n]})`;
    if (!Array.isArray(ys)) throw new DataError(`${where}: no "${seriesKey}" array`);
    if (ys.length !== T) throw new DataError(`${where}: "${seriesKey}" has ${ys.length} values, nodes[0] has ${T} (ragged series)`);
    for (let t = 0; t < T; t++) {
      const raw = ys[t];
      const v = raw === null ? NaN : typeof raw === 'number' ? raw : Number.NaN;
      if (typeof raw !== 'number' && raw !== null) throw new DataError(`${where}: ${seriesKey}[${t}] = ${quoteText(raw)} is not a number`);
      if (isMissingValue(v, missing)) {
        mask ??= new Uint8Array(T * N).fill(1);
        mask[t * N + n] = 0;
        series[t * N + n] = 0;
      } else if (Number.isNaN(v)) {
        throw new DataError(`${where}: ${seriesKey}[${t}] is null (declare "missing": "nan" in the manifest if these are gaps)`);
      } else {
        series[t * N + n] = v;
      }
    }
  });
  return { nodeIds, T, N, F: 1, series, mask };
}

export interface NodeLinkEdgeKeys {
  source: string;
  target: string;
  /** Absent key = weight 1 for every link. */
  weight?: string;
}

/**
 * Links as 0-based edges over `nodeIds` (the series' node order). An undirected document
 * ("directed": false) yields both directions; a directed one keeps links as given.
 */
export function nodeLinkEdges(doc: NodeLinkDoc, nodeIds: readonly string[], keys: NodeLinkEdgeKeys): Edge[] {
  const index = new Map(nodeIds.map((id, i) => [id, i]));
  const edges: Edge[] = [];
  doc.links.forEach((link, k) => {
    const where = `${doc.file}, links[${k}]`;
    const end = (key: string) => {
      const id = link[key];
      if (typeof id !== 'string' && typeof id !== 'number') throw new DataError(`${where}: no "${key}" node id`);
      const i = index.get(String(id));
      if (i === undefined) throw new DataError(`${where}: ${key} ${quoteText(id)} is not a node id of the file`);
      return i;
    };
    const from = end(keys.source);
    const to = end(keys.target);
    let weight = 1;
    if (keys.weight) {
      const w = link[keys.weight];
      if (typeof w !== 'number') throw new DataError(`${where}: "${keys.weight}" = ${quoteText(w)} is not a number`);
      weight = w;
    }
    edges.push({ from, to, weight, where });
    if (!doc.directed && from !== to) edges.push({ from: to, to: from, weight, where });
  });
  return edges;
}

/** [N, 2] coordinates (x, y) read from node fields, in `nodeIds` order. */
export function nodeLinkCoords(doc: NodeLinkDoc, idKey: string, xKey: string, yKey: string, nodeIds: readonly string[]): Float64Array {
  const ids = nodeLinkIds(doc, idKey);
  const rowOf = new Map(ids.map((id, k) => [id, k]));
  const out = new Float64Array(nodeIds.length * 2);
  nodeIds.forEach((id, n) => {
    const k = rowOf.get(id);
    if (k === undefined) throw new DataError(`${doc.file}: node "${id}" of the series has no entry in "nodes"`);
    const node = doc.nodes[k]!;
    [xKey, yKey].forEach((key, c) => {
      const v = getPath(node, key);
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new DataError(`${doc.file}, nodes[${k}] (id ${id}): "${key}" = ${quoteText(v)} is not a finite number`);
      out[n * 2 + c] = v;
    });
  });
  return out;
}

/** Parse cache for one load: node-link files feed series, graph and coordinates. */
export type DocCache = Map<string, NodeLinkDoc>;

export function nodeLinkDoc(cache: DocCache, file: string): NodeLinkDoc {
  let doc = cache.get(file);
  if (!doc) {
    doc = readNodeLinkDoc(file);
    cache.set(file, doc);
  }
  return doc;
}
