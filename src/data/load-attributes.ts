/**
 * A manifest's node attributes (coordinates, POI categories, embedding vectors), lined up with the
 * series' nodes (loadCity reads the series first; it fixes N and the node order).
 */
import { DataError, type NodeAttributes } from './city.js';
import { columnIndex, numericColumn, readCsvMatrix, readCsvTable, readNode2vecText, type SeriesData } from './loaders/csv.js';
import type { CategorySpec, CoordsSpec, EmbeddingSpec, LoadedManifest } from './loaders/manifest.js';
import { nodeLinkCoords, nodeLinkDoc, type DocCache } from './loaders/nodelink.js';
import { readArray } from './loaders/npy.js';
import { arrayMatrix, selectRows } from './validate.js';

type AttributesSpec = LoadedManifest['manifest']['attributes'];

export function loadAttributes(spec: AttributesSpec, s: SeriesData, resolvePath: (p: string) => string, docs: DocCache): NodeAttributes {
  const out: NodeAttributes = {};
  if (spec.coords) Object.assign(out, loadCoords(spec.coords, s, resolvePath, docs));
  for (const [name, e] of Object.entries(spec.embeddings ?? {})) {
    out.embeddings ??= {};
    out.embeddings[name] = loadEmbedding(e, s.N, resolvePath, name);
  }
  for (const [name, c] of Object.entries(spec.categories ?? {})) {
    out.categories ??= {};
    out.categories[name] = loadCategory(c, s.N, resolvePath, name);
  }
  return out;
}

function loadCoords(spec: CoordsSpec, s: SeriesData, resolvePath: (p: string) => string, docs: DocCache): Pick<NodeAttributes, 'coords' | 'coordKind'> {
  const N = s.N;
  if (spec.format === 'grid') {
    const coords = new Float32Array(N * 2);
    for (let i = 0; i < N; i++) {
      coords[i * 2] = i % spec.columns; // x = column
      coords[i * 2 + 1] = Math.floor(i / spec.columns); // y = row
    }
    return { coords, coordKind: 'grid' };
  }
  const file = resolvePath(spec.file);
  if (spec.format === 'node-link') {
    const xy = nodeLinkCoords(nodeLinkDoc(docs, file), spec.idKey, spec.x, spec.y, s.nodeIds);
    return { coords: Float32Array.from(xy), coordKind: spec.kind };
  }
  const table = readCsvTable(file, { header: spec.header, delimiter: spec.delimiter });
  const xs = numericColumn(table, columnIndex(table, spec.x, 'x'));
  const ys = numericColumn(table, columnIndex(table, spec.y, 'y'));
  let rows: number[];
  if (spec.idColumn !== undefined) {
    const ic = columnIndex(table, spec.idColumn, 'idColumn');
    const rowOf = new Map<string, number>();
    table.rows.forEach((row, r) => {
      const id = row[ic]!.trim().replace(/^"|"$/g, '');
      const prev = rowOf.get(id);
      if (prev !== undefined) throw new DataError(`${file}, line ${table.lineOf(r)}: duplicate node id "${id}" (first at line ${table.lineOf(prev)})`);
      rowOf.set(id, r);
    });
    rows = s.nodeIds.map((id) => {
      const r = rowOf.get(id);
      if (r === undefined) throw new DataError(`${file}: no row for node "${id}" in column ${spec.idColumn}`);
      return r;
    });
  } else {
    rows = selectRows(table.rows.length, N, spec.select, `coordinates ${file}`);
  }
  const coords = new Float32Array(N * 2);
  rows.forEach((r, n) => {
    const x = xs[r]!;
    const y = ys[r]!;
    if (spec.kind === 'latlon' && (Math.abs(y) > 90 || Math.abs(x) > 180)) {
      throw new DataError(`${file}, line ${table.lineOf(r)}: (lon ${x}, lat ${y}) is not a valid longitude/latitude (node "${s.nodeIds[n]}")`);
    }
    coords[n * 2] = x;
    coords[n * 2 + 1] = y;
  });
  return { coords, coordKind: spec.kind };
}

function loadEmbedding(spec: EmbeddingSpec, N: number, resolvePath: (p: string) => string, name: string): { dim: number; data: Float32Array } {
  const file = resolvePath(spec.file);
  const m =
    spec.format === 'dense-csv'
      ? readCsvMatrix(file, { header: spec.header, delimiter: spec.delimiter })
      : spec.format === 'node2vec-txt'
        ? readNode2vecText(file)
        : arrayMatrix(readArray(file, spec.key), file, spec.key);
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i]!)) throw new DataError(`${m.locate(Math.floor(i / m.cols), i % m.cols)}: embedding value ${m.data[i]} is not finite`);
  }
  const rows = selectRows(m.rows, N, spec.select, `embedding "${name}" ${file}`);
  const data = new Float32Array(N * m.cols);
  rows.forEach((r, n) => data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), n * m.cols));
  return { dim: m.cols, data };
}

function loadCategory(spec: CategorySpec, N: number, resolvePath: (p: string) => string, name: string): Int32Array {
  const file = resolvePath(spec.file);
  const table = readCsvTable(file, { header: spec.header, delimiter: spec.delimiter });
  const c = columnIndex(table, spec.column, 'column');
  const values = numericColumn(table, c);
  const rows = selectRows(values.length, N, spec.select, `category "${name}" ${file}`);
  return Int32Array.from(rows, (r) => {
    const v = values[r]!;
    if (!Number.isInteger(v)) throw new DataError(`${file}, line ${table.lineOf(r)}, column ${c + 1}: category "${name}" value ${v} is not an integer`);
    return v;
  });
}
