/**
 * Every loader rejects malformed input with a DataError naming the file and the place (line and
 * column, array index, node or link). Fixtures are tiny files written to a temp folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { DataError, type City } from '../../src/data/city.js';
import { loadCity } from '../../src/data/load.js';
import { encodeNpy } from '../../src/data/loaders/npy.js';
import { MIN_WINDOW_STEPS, validateCity } from '../../src/data/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'gpd-validation-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** Write `files` into a fresh sub-folder with a city.json built from `manifest`; return its path. */
function fixture(manifest: Record<string, unknown>, files: Record<string, string | Uint8Array>): string {
  const sub = join(dir, `case${counter++}`);
  mkdirSync(sub);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(sub, name), content);
  writeFileSync(join(sub, 'city.json'), JSON.stringify({ id: 'fixture', intervalMinutes: 5, ...manifest }));
  return sub;
}

function rejects(folder: string, pattern: RegExp): void {
  assert.throws(
    () => loadCity(folder),
    (e: unknown) => {
      assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

/** A valid 3-node wide CSV with `T` rows; `edit(rows)` can break it. */
function wideCsv(T = 20, edit?: (rows: string[]) => void): string {
  const rows = ['a,b,c'];
  for (let t = 0; t < T; t++) rows.push(`${t + 1},${t + 2},${t + 3}`);
  edit?.(rows);
  return rows.join('\n') + '\n';
}
const ADJ3 = '0,1,0\n1,0,1\n0,1,0\n';
const csvCity = (extraSeries: Record<string, unknown> = {}) => ({
  series: { format: 'wide-csv', file: 's.csv', ...extraSeries },
  adjacency: { format: 'dense-csv', file: 'a.csv' },
});

test('a valid fixture loads (baseline for every rejection below)', () => {
  const city = loadCity(fixture(csvCity(), { 's.csv': wideCsv(), 'a.csv': ADJ3 }));
  assert.deepEqual([city.T, city.N, city.F], [20, 3, 1]);
  assert.deepEqual(city.nodeIds, ['a', 'b', 'c']);
});

test('wide CSV: ragged row, non-numeric cell, NaN/Inf, duplicate ids, short series name file, line, column and node', () => {
  rejects(fixture(csvCity(), { 's.csv': wideCsv(20, (r) => (r[4] = '1,2')), 'a.csv': ADJ3 }), /s\.csv, line 5: 2 fields, expected 3 .*ragged/);
  rejects(fixture(csvCity(), { 's.csv': wideCsv(20, (r) => (r[3] = '1,x,3')), 'a.csv': ADJ3 }), /s\.csv, line 4, column 2 \(node "b"\): "x" is not a number/);
  rejects(fixture(csvCity(), { 's.csv': wideCsv(20, (r) => (r[5] = '1,2,NaN')), 'a.csv': ADJ3 }), /s\.csv, line 6, column 3 \(node "c"\): "NaN" is NaN \(declare "missing": "nan"/);
  rejects(fixture(csvCity(), { 's.csv': wideCsv(20, (r) => (r[2] = '1,,3')), 'a.csv': ADJ3 }), /s\.csv, line 3, column 2 \(node "b"\): "" is empty/);
  rejects(fixture(csvCity(), { 's.csv': wideCsv(20, (r) => (r[7] = 'inf,2,3')), 'a.csv': ADJ3 }), /s\.csv, line 8, column 1 \(node "a"\): "inf" is not finite/);
  rejects(fixture(csvCity(), { 's.csv': wideCsv(20, (r) => (r[0] = 'a,b,a')), 'a.csv': ADJ3 }), /duplicate node id "a" at .*s\.csv, line 1, column 3 \(first at .*s\.csv, line 1, column 1\)/);
  rejects(fixture(csvCity(), { 's.csv': wideCsv(MIN_WINDOW_STEPS - 1), 'a.csv': ADJ3 }), /series has 17 time steps, fewer than one window \(18/);
  // A blank line inside the data is a ragged row, not skipped.
  rejects(fixture(csvCity(), { 's.csv': wideCsv(20, (r) => (r[9] = '')), 'a.csv': ADJ3 }), /s\.csv, line 10: 1 fields/);
});

test('wide CSV: declared missing markers (0, "nan") are masked and hold 0; CRLF and a missing final newline are fine', () => {
  const text = wideCsv(20, (r) => {
    r[1] = '0,2,3';
    r[2] = '1,nan,3';
    r[3] = '1,2,';
  }).replace(/\n/g, '\r\n').trimEnd();
  const city = loadCity(fixture(csvCity({ missing: [0, 'nan'] }), { 's.csv': text, 'a.csv': ADJ3 }));
  const masked = [...city.mask!.keys()].filter((i) => city.mask![i] === 0);
  assert.deepEqual(masked, [0, 4, 8]);
  for (const i of masked) assert.equal(city.series[i], 0);
  assert.equal(city.series[1], 2);
});

test('timestamps: unparseable cell and an irregular step name the line', () => {
  const stamped = (edit?: (rows: string[]) => void) =>
    wideCsv(20, (r) => {
      r[0] = 'date,a,b,c';
      for (let t = 1; t < r.length; t++) r[t] = `1/1/2015 ${Math.floor((t - 1) / 12)}:${String(((t - 1) % 12) * 5).padStart(2, '0')},${r[t]}`;
      edit?.(r);
    });
  const spec = csvCity({ timestampColumn: 'date', timestampFormat: 'M/D/YYYY H:MM' });
  const ok = loadCity(fixture(spec, { 's.csv': stamped(), 'a.csv': ADJ3 }));
  assert.equal(new Date(ok.timestamps![13]!).toISOString(), '2015-01-01T01:05:00.000Z');
  rejects(fixture(spec, { 's.csv': stamped((r) => (r[4] = r[4]!.replace('1/1/2015', '13/1/2015'))), 'a.csv': ADJ3 }), /s\.csv, line 5, column 1: "13\/1\/2015 0:15" is not a M\/D\/YYYY H:MM timestamp/);
  rejects(fixture(spec, { 's.csv': stamped((r) => (r[6] = r[6]!.replace('0:25', '0:35'))), 'a.csv': ADJ3 }), /s\.csv, line 7, column 1: timestamp .* is 15 min after the previous one, expected the 5 min interval/);
});

test('dense adjacency CSV: size mismatch, negative weight, non-square, non-numeric name the file and cell', () => {
  const s = wideCsv();
  rejects(fixture(csvCity(), { 's.csv': s, 'a.csv': '0,1,0,0\n1,0,1,0\n0,1,0,0\n0,0,0,0\n' }), /adjacency .*a\.csv has 4 nodes but the series has 3; .*"select": "first-n"/);
  rejects(fixture(csvCity(), { 's.csv': s, 'a.csv': '0,1,0\n1,0,-1\n0,1,0\n' }), /a\.csv, line 2, column 3: negative adjacency weight -1/);
  rejects(fixture(csvCity(), { 's.csv': s, 'a.csv': '0,1,0,1\n1,0,1,1\n0,1,0,1\n' }), /a\.csv is 3x4, an adjacency matrix must be square/);
  rejects(fixture(csvCity(), { 's.csv': s, 'a.csv': '0,1,0\n1,0,?\n0,1,0\n' }), /a\.csv, line 2, column 3: "\?" is not a number/);
  rejects(fixture(csvCity(), { 's.csv': s, 'a.csv': '0,1,0\n1,0\n0,1,0\n' }), /a\.csv, line 2: 2 fields, expected 3/);
  // Larger graph + "first-n" takes the leading block; explicit indices pick rows/cols.
  const big = '0,1,0,9\n1,0,1,9\n0,1,0,9\n9,9,9,0\n';
  const firstN = loadCity(fixture({ ...csvCity(), adjacency: { format: 'dense-csv', file: 'a.csv', select: 'first-n' } }, { 's.csv': s, 'a.csv': big }));
  assert.deepEqual(Array.from(firstN.adjacency), [0, 1, 0, 1, 0, 1, 0, 1, 0]);
  const picked = loadCity(fixture({ ...csvCity(), adjacency: { format: 'dense-csv', file: 'a.csv', select: { indices: [3, 0, 1] } } }, { 's.csv': s, 'a.csv': big }));
  assert.deepEqual(Array.from(picked.adjacency), [0, 9, 9, 9, 0, 1, 9, 1, 0]);
});

test('edge list: out-of-range index, negative weight, conflicting duplicate, bad token, unknown id name the line', () => {
  const s = wideCsv();
  const el = (text: string, extra: Record<string, unknown> = {}) => fixture({ ...csvCity(), adjacency: { format: 'edge-list', file: 'e.txt', ...extra } }, { 's.csv': s, 'e.txt': text });
  rejects(el('0 1 1\n1 5 1\n'), /e\.txt, line 2: node index 5 but the series has 3 nodes/);
  rejects(el('0 1 -0.5\n'), /e\.txt, line 1: negative adjacency weight -0.5/);
  rejects(el('0 1 1\n1 2 1\n0 1 2\n'), /e\.txt, line 3: edge 0 -> 1 appears again with a different weight \(first at .*e\.txt, line 1\)/);
  rejects(el('x 1 1\n'), /e\.txt, line 1, column 1: "x" is not a node index/);
  rejects(el('a b 1\nb zz 1\n', { nodeRef: 'id' }), /e\.txt, line 2, column 2: node id "zz" is not one of the series' nodes/);
  rejects(el('0 1 1\n\n1 2 1\n'), /e\.txt, line 2: blank line/);
  const ok = loadCity(el('1 2 1\n2 3 0.5\n', { indexBase: 1 }));
  assert.deepEqual(Array.from(ok.adjacency), [0, 1, 0, 0, 0, 0.5, 0, 0, 0]);
});

test('npy/npz: NaN/Inf at [t, n, f], Fortran order, object dtype, bad magic, wrong rank, negative weight at [r, c]', () => {
  const series = new Float32Array(20 * 3).fill(1);
  const adj = encodeNpy(new Float64Array([0, 1, 0, 1, 0, 1, 0, 1, 0]), [3, 3]);
  const npyCity = { series: { format: 'npy', file: 's.npy' }, adjacency: { format: 'npy', file: 'm.npy' } };
  const bad = series.slice();
  bad[1 * 3 + 2] = NaN;
  rejects(fixture(npyCity, { 's.npy': encodeNpy(bad, [20, 3, 1]), 'm.npy': adj }), /s\.npy: value NaN at \[1, 2, 0\] \(step 1, node 2, feature 0\) is not finite \(declare "missing": "nan"/);
  const inf = series.slice();
  inf[4 * 3] = Infinity;
  rejects(fixture(npyCity, { 's.npy': encodeNpy(inf, [20, 3]), 'm.npy': adj }), /s\.npy: value Infinity at \[4, 0, 0\]/);
  rejects(fixture(npyCity, { 's.npy': encodeNpy(series, [20, 3], { fortranOrder: true }), 'm.npy': adj }), /s\.npy: array is stored in Fortran order/);
  rejects(fixture(npyCity, { 's.npy': encodeNpy(series, [20, 3], { descr: '|O' }), 'm.npy': adj }), /s\.npy: dtype '\|O': object arrays \(pickles\) are not supported/);
  rejects(fixture(npyCity, { 's.npy': new TextEncoder().encode('not numpy at all'), 'm.npy': adj }), /s\.npy: not a NumPy \.npy file/);
  rejects(fixture(npyCity, { 's.npy': encodeNpy(series, [60]), 'm.npy': adj }), /s\.npy: series array has shape \(60\), expected \[T, N\]/);
  rejects(fixture(npyCity, { 's.npy': encodeNpy(series, [20, 3]), 'm.npy': encodeNpy(new Float64Array([0, 1, 0, -2, 0, 1, 0, 1, 0]), [3, 3]) }), /m\.npy \[1, 0\]: negative adjacency weight -2/);
  rejects(fixture(npyCity, { 's.npy': encodeNpy(series, [20, 3]).subarray(0, 150), 'm.npy': adj }), /s\.npy: data truncated/);
  // npz: adjacency key names the member in errors.
  const npz = zipSync({ 'adj_mx.npy': encodeNpy(new Float64Array([0, 1, 0, 1, 0, Infinity, 0, 1, 0]), [3, 3]) });
  rejects(
    fixture({ series: npyCity.series, adjacency: { format: 'npz', file: 'g.npz', key: 'adj_mx' } }, { 's.npy': encodeNpy(series, [20, 3]), 'g.npz': npz }),
    /g\.npz \[adj_mx\] \[1, 2\]: adjacency weight Infinity is not finite/,
  );
});

test('npz-windows: node/feature mismatch between files and an out-of-range horizon name the file', () => {
  const win = (S: number, N: number) => zipSync({ 'y.npy': encodeNpy(new Float64Array(S * 1 * N * 2).fill(3), [S, 1, N, 2]) });
  const spec = (horizonIndex = 0) => ({
    series: { format: 'npz-windows', files: ['val.npz', 'test.npz'], horizonIndex },
    adjacency: { format: 'dense-csv', file: 'a.csv' },
  });
  rejects(fixture(spec(), { 'val.npz': win(10, 3), 'test.npz': win(10, 4), 'a.csv': ADJ3 }), /test\.npz \[y\]: windows have 4 nodes x 2 features, but .*val\.npz \[y\] has 3 x 2/);
  rejects(fixture(spec(1), { 'val.npz': win(10, 3), 'test.npz': win(10, 3), 'a.csv': ADJ3 }), /val\.npz \[y\]: horizonIndex 1 is beyond the horizon axis of size 1/);
  const ok = loadCity(fixture(spec(), { 'val.npz': win(10, 3), 'test.npz': win(10, 3), 'a.csv': ADJ3 }));
  assert.deepEqual([ok.T, ok.N, ok.F], [20, 3, 2]);
});

test('node-link: ragged series, non-numeric value, unknown link end, negative weight, duplicate id name the node or link', () => {
  const node = (id: string, T = 20) => ({ id, y: Array.from({ length: T }, (_, t) => t) });
  const spec = { series: { format: 'node-link', file: 'g.json' }, adjacency: { format: 'node-link', file: 'g.json' } };
  const doc = (nodes: unknown[], links: unknown[]) => JSON.stringify({ directed: true, nodes, links });
  rejects(fixture(spec, { 'g.json': doc([node('a'), node('b', 17)], []) }), /g\.json, nodes\[1\] \(id b\): "y" has 17 values, nodes\[0\] has 20 \(ragged/);
  const bad = node('a');
  (bad.y as unknown[])[3] = 'x';
  rejects(fixture(spec, { 'g.json': doc([bad, node('b')], []) }), /g\.json, nodes\[0\] \(id a\): y\[3\] = "x" is not a number/);
  rejects(fixture(spec, { 'g.json': doc([node('a'), node('b')], [{ source: 'a', target: 'zz', weight: 1 }]) }), /g\.json, links\[0\]: target "zz" is not a node id/);
  rejects(fixture(spec, { 'g.json': doc([node('a'), node('b')], [{ source: 'a', target: 'b', weight: 1 }, { source: 'b', target: 'a', weight: -3 }]) }), /g\.json, links\[1\]: negative adjacency weight -3/);
  rejects(fixture(spec, { 'g.json': doc([node('a'), node('b'), node('a')], []) }), /duplicate node id "a" at .*g\.json, nodes\[2\] \(first at .*nodes\[0\]\)/);
  rejects(fixture(spec, { 'g.json': '{"nodes": [' }), /g\.json: not valid JSON/);
});

test('attributes: row-count mismatch, non-integer category, bad lat/lon, node missing from an id-keyed table', () => {
  const base = { 's.csv': wideCsv(), 'a.csv': ADJ3 };
  const withAttr = (attributes: unknown, files: Record<string, string>) => fixture({ ...csvCity(), attributes }, { ...base, ...files });
  rejects(withAttr({ embeddings: { kg: { format: 'dense-csv', file: 'kg.csv' } } }, { 'kg.csv': '1,2\n3,4\n5,6\n7,8\n9,0\n' }), /embedding "kg" .*kg\.csv has 5 nodes but the series has 3/);
  rejects(withAttr({ categories: { poi: { format: 'csv-column', file: 'p.csv' } } }, { 'p.csv': '1,1\n2.5,2\n3,3\n' }), /p\.csv, line 2, column 1: category "poi" value 2.5 is not an integer/);
  const loc = 'id,lat,lon\na,34.1,-118.2\nb,134.1,-118.2\nc,34.0,-118.0\n';
  const coords = { format: 'csv-columns', file: 'loc.csv', idColumn: 'id', x: 'lon', y: 'lat', kind: 'latlon' };
  rejects(withAttr({ coords }, { 'loc.csv': loc }), /loc\.csv, line 3: \(lon -118.2, lat 134.1\) is not a valid longitude\/latitude \(node "b"\)/);
  rejects(withAttr({ coords }, { 'loc.csv': 'id,lat,lon\na,34.1,-118.2\nc,34.0,-118.0\n' }), /loc\.csv: no row for node "b" in column id/);
  rejects(withAttr({ coords: { ...coords, x: 'longitude' } }, { 'loc.csv': loc }), /loc\.csv, line 1: no column named "longitude" \(x\)/);
  // id-keyed rows may come in any order.
  const ok = loadCity(withAttr({ coords }, { 'loc.csv': 'id,lat,lon\nc,3,4\na,1,2\nb,5,6\n' }));
  assert.deepEqual(Array.from(ok.attributes.coords!), [2, 1, 6, 5, 4, 3]);
});

test('manifest: unknown key, wrong type, unknown format, missing required key and missing files name the manifest and key', () => {
  const files = { 's.csv': wideCsv(), 'a.csv': ADJ3 };
  rejects(fixture({ ...csvCity(), series: { format: 'wide-csv', fle: 's.csv' } }, files), /invalid city manifest .*city\.json:\n {2}series\.file: required key is missing[\s\S]*series\.fle: unknown key/);
  rejects(fixture({ ...csvCity(), intervalMinutes: '5' }, files), /city\.json:\n {2}intervalMinutes: Invalid input: expected number, received string/);
  rejects(fixture({ ...csvCity(), adjacency: { format: 'graphml', file: 'a.csv' } }, files), /city\.json:\n {2}adjacency\.format: unknown format/);
  rejects(fixture({ ...csvCity(), adjacency: { format: 'dense-csv', file: 'a.csv', weight: 'cosine' } }, files), /adjacency\.weight: expected "raw", "binary", "gaussian-distance"/);
  rejects(fixture({ ...csvCity(), featureNames: ['x', 'y'] }, files), /city\.json: "featureNames" lists 2 names but the series has F = 1/);
  rejects(fixture({ ...csvCity(), start: 'yesterday' }, files), /city\.json: "start" "yesterday" is not an ISO time/);
  rejects(fixture({ series: { format: 'wide-csv', file: 'nope.csv' }, adjacency: { format: 'dense-csv', file: 'a.csv' } }, files), /cannot read .*case\d+\/nope\.csv/);
  const empty = join(dir, 'empty-folder');
  mkdirSync(empty);
  assert.throws(() => loadCity(empty), (e: unknown) => e instanceof DataError && /empty-folder holds no city\.json and no data files/.test(e.message));
  const broken = fixture(csvCity(), files);
  writeFileSync(join(broken, 'city.json'), '{ "id": ');
  rejects(broken, /city manifest .*city\.json is not valid JSON/);
});

test('validateCity (the guard for any City, loaded or generated) names the step/node at fault', () => {
  const good = (): City => ({
    id: 'hand',
    intervalMinutes: 60,
    nodeIds: ['p', 'q'],
    T: 18,
    N: 2,
    F: 1,
    series: new Float32Array(36).fill(2),
    adjacency: new Float32Array([0, 1, 1, 0]),
    attributes: {},
  });
  validateCity(good());
  const nan = good();
  nan.series[2 * 2 + 1] = NaN;
  assert.throws(() => validateCity(nan), /city "hand": value NaN at step 2, node 1 \("q"\), feature 0 is not finite/);
  const adj = good();
  adj.adjacency = new Float32Array(3);
  assert.throws(() => validateCity(adj), /adjacency has 3 entries, expected N\*N = 4/);
  const neg = good();
  neg.adjacency[1] = -1;
  assert.throws(() => validateCity(neg), /adjacency \[0, 1\]: negative adjacency weight -1/);
  const ids = good();
  ids.nodeIds = ['p', 'p'];
  assert.throws(() => validateCity(ids), /duplicate node id "p" at node 1 \(first at node 0\)/);
  const short = { ...good(), T: 17, series: new Float32Array(34) };
  assert.throws(() => validateCity(short), /17 time steps, fewer than one window/);
  const ts = { ...good(), timestamps: Float64Array.from({ length: 18 }, (_, t) => t * 3_600_000 + (t >= 9 ? 60_000 : 0)) };
  assert.throws(() => validateCity(ts), /step 9: timestamp .* is 61 min after the previous one/);
});
