/**
 * The four real cities load through their manifests with the facts PROVENANCE.md verified with
 * numpy, plus the format readers (npy/npz, edge list, node-link) on real files and fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { loadCity } from '../../src/data/load.js';
import { parseTimestamp } from '../../src/data/loaders/csv.js';
import { encodeNpy, parseNpy, readArray, readNpz } from '../../src/data/loaders/npy.js';
import { NO_MISSING } from '../../src/data/validate.js';
import { DataError, type City } from '../../src/data/city.js';
import { readWideCsvSeries } from '../../src/data/loaders/wide-csv.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = resolve(projectRoot, '../shared/data');
const manifest = (id: string) => join(projectRoot, 'cities', `${id}.city.json`);

function meanStd(values: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  const mean = s / values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(ss / values.length) };
}

function minMax(a: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    lo = Math.min(lo, a[i]!);
    hi = Math.max(hi, a[i]!);
  }
  return [lo, hi];
}

function nonZeros(a: Float32Array): number {
  let k = 0;
  for (const v of a) if (v !== 0) k++;
  return k;
}

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-loaders-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('la-loop: 207 sensors x 2016 five-minute steps, speed mean 58.89 / std 12.53, symmetric graph, coords and node2vec', () => {
  const city = loadCity(manifest('la-loop'));
  assert.equal(city.N, 207);
  assert.equal(city.T, 2016);
  assert.equal(city.F, 1);
  assert.equal(city.intervalMinutes, 5);
  assert.equal(city.nodeIds[0], '773869');
  assert.equal(city.nodeIds[1], '767541');
  const { mean, std } = meanStd(city.series);
  assert.ok(Math.abs(mean - 58.89) < 0.005, `mean ${mean}`);
  assert.ok(Math.abs(std - 12.53) < 0.005, `std ${std}`);
  assert.deepEqual(minMax(city.series), [1, 70]);
  assert.equal(city.mask, undefined);
  // los_adj.csv: symmetric, diagonal 1, 2833 non-zeros, smallest positive 0.1001.
  const A = city.adjacency;
  assert.equal(nonZeros(A), 2833);
  let minPos = Infinity;
  for (let i = 0; i < 207; i++) {
    assert.equal(A[i * 207 + i], 1);
    for (let j = 0; j < 207; j++) {
      assert.equal(A[i * 207 + j], A[j * 207 + i]);
      if (A[i * 207 + j]! > 0) minPos = Math.min(minPos, A[i * 207 + j]!);
    }
  }
  assert.ok(Math.abs(minPos - 0.1001) < 5e-5, `smallest weight ${minPos}`);
  // Coordinates joined by sensor id; graph_sensor_locations.csv row 0 is 773869 at (34.15497, -118.31829).
  assert.equal(city.attributes.coordKind, 'latlon');
  assert.ok(Math.abs(city.attributes.coords![0]! - -118.31829) < 1e-4);
  assert.ok(Math.abs(city.attributes.coords![1]! - 34.15497) < 1e-4);
  // node2vec rows sorted by their index: SE(METR).txt's first data line is node 203.
  const se = city.attributes.embeddings!.node2vec!;
  assert.equal(se.dim, 64);
  const line = readFileSync(join(dataDir, 'la-loop', 'SE(METR).txt'), 'utf8').split('\n')[1]!.trim().split(/\s+/).map(Number);
  assert.equal(line[0], 203);
  for (let d = 0; d < 64; d++) assert.ok(Math.abs(se.data[203 * 64 + d]! - line[d + 1]!) < 1e-6);
  assert.ok(city.timestamps && new Date(city.timestamps[0]!).toISOString() === '2012-03-01T00:00:00.000Z');
  assert.match(city.source!, /inferred/);
});

test('la-loop CSV (3.4 MB) parses well under a second', () => {
  const file = join(dataDir, 'la-loop', 'los_speed.csv');
  const t0 = performance.now();
  const s = readWideCsvSeries(file, { header: true, delimiter: ',', timestampFormat: 'iso', missing: NO_MISSING });
  const ms = performance.now() - t0;
  assert.equal(s.T * s.N, 2016 * 207);
  // ~60 ms idle, ~250 ms with the 2 cores fully shared; 1 s leaves room for load but catches a quadratic parser.
  assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
});

test('Adj(METR).txt as an i-j-w edge list: directed 1722 edges; symmetrised it equals los_adj.csv within 1e-6', () => {
  withTmp((dir) => {
    const base = {
      id: 'la-directed',
      intervalMinutes: 5,
      series: { format: 'wide-csv', file: join(dataDir, 'la-loop', 'los_speed.csv') },
    };
    const edge = { format: 'edge-list', file: join(dataDir, 'la-loop', 'Adj(METR).txt') };
    writeFileSync(join(dir, 'directed.city.json'), JSON.stringify({ ...base, adjacency: edge }));
    writeFileSync(join(dir, 'sym.city.json'), JSON.stringify({ ...base, adjacency: { ...edge, symmetrize: true } }));
    const directed = loadCity(join(dir, 'directed.city.json')).adjacency;
    assert.equal(nonZeros(directed), 1722);
    let asym = 0;
    for (let i = 0; i < 207; i++) for (let j = 0; j < 207; j++) if (directed[i * 207 + j] !== directed[j * 207 + i]) asym++;
    assert.ok(asym > 0);
    const sym = loadCity(join(dir, 'sym.city.json')).adjacency;
    const ref = loadCity(manifest('la-loop')).adjacency;
    for (let k = 0; k < ref.length; k++) assert.ok(Math.abs(sym[k]! - ref[k]!) < 1e-6, `entry ${k}`);
  });
});

test('shenzhen-sztaxi40: 40 roads x 2976 quarter-hours, timestamps, zeros masked, first 40 rows of the 156-node graph and knowledge', () => {
  const city = loadCity(manifest('shenzhen-sztaxi40'));
  assert.equal(city.N, 40);
  assert.equal(city.T, 2976);
  assert.equal(city.intervalMinutes, 15);
  assert.equal(city.nodeIds[0], '90217');
  assert.equal(city.nodeIds[39], '94163');
  assert.equal(new Date(city.timestamps![0]!).toISOString(), '2015-01-01T00:00:00.000Z');
  assert.equal(new Date(city.timestamps![2975]!).toISOString(), '2015-01-31T23:45:00.000Z');
  const missing = city.mask!.reduce((a, m) => a + (m === 0 ? 1 : 0), 0) / city.mask!.length;
  assert.ok(Math.abs(missing - 0.0613) < 5e-4, `zero fraction ${missing}`);
  // Masked cells hold 0 and every 0 in the file is masked (none counted as a reading).
  for (let i = 0; i < city.series.length; i++) if (city.mask![i] === 0) assert.equal(city.series[i], 0);
  // First row of the file: 8.471971271 at road 90217, 0 (missing) at road 90224 (column 9).
  assert.ok(Math.abs(city.series[0]! - 8.471971271) < 1e-5);
  assert.equal(city.mask![7], 0);
  // Adjacency = sz_adj[:40,:40] as given (95 ones, asymmetric entries kept).
  const rows = readFileSync(join(dataDir, 'shenzhen-sztaxi40', 'sz_adj.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').map(Number));
  for (let i = 0; i < 40; i++) for (let j = 0; j < 40; j++) assert.equal(city.adjacency[i * 40 + j], rows[i]![j]);
  assert.equal(nonZeros(city.adjacency), 95);
  // Knowledge: kg/poi embeddings 20-d (rows 0..39), POI category from column 0 of the CRLF file.
  const kgFirst = readFileSync(join(dataDir, 'shenzhen-sztaxi40', 'sz_kg_embedding.csv'), 'utf8').split(/\r?\n/)[0]!.split(',').map(Number);
  assert.equal(city.attributes.embeddings!.kg!.dim, 20);
  for (let d = 0; d < 20; d++) assert.ok(Math.abs(city.attributes.embeddings!.kg!.data[d]! - kgFirst[d]!) < 1e-6);
  assert.equal(city.attributes.embeddings!.poi!.data.length, 40 * 20);
  const poi = city.attributes.categories!.poi!;
  assert.equal(poi.length, 40);
  for (const c of poi) assert.ok(c >= 1 && c <= 8);
});

test('montevideo-bus: node-link JSON, 675 stops x 744 hours, daily totals match, 690 directed links as Gaussian similarities', () => {
  const city = loadCity(manifest('montevideo-bus'));
  assert.equal(city.N, 675);
  assert.equal(city.T, 744);
  assert.equal(city.nodeIds[0], '5289');
  const daily = Array.from({ length: 7 }, (_, d) => {
    let s = 0;
    for (let i = d * 24 * 675; i < (d + 1) * 24 * 675; i++) s += city.series[i]!;
    return s;
  });
  assert.deepEqual(daily, [13980, 15104, 9038, 5496, 13979, 14528, 14524]);
  assert.equal(nonZeros(city.adjacency), 690);
  assert.equal(city.attributes.coordKind, 'planar');
  const xs = Array.from({ length: 675 }, (_, i) => city.attributes.coords![i * 2]!);
  assert.equal(Math.min(...xs), 566071);
  assert.equal(Math.max(...xs), 589297);
  // Link 5289 -> 5290 is 172.2 m; sigma = std of the 690 distances = 174.3401 m (numpy).
  const [a, b] = [city.nodeIds.indexOf('5289'), city.nodeIds.indexOf('5290')];
  assert.ok(Math.abs(city.adjacency[a * 675 + b]! - Math.exp(-((172.2 / 174.3401) ** 2))) < 1e-5);
  assert.equal(city.adjacency[b * 675 + a], 0, 'directed link stays directed');
  for (const w of city.adjacency) assert.ok(w >= 0 && w <= 1);
  assert.equal(new Date(city.timestamps![743]!).toISOString(), '2020-10-31T23:00:00.000Z');
});

test('nyc-bike-grid: windows reassembled into a contiguous (1295, 128, 2) series, 8-neighbour grid, grid coords', () => {
  const city = loadCity(manifest('nyc-bike-grid'));
  assert.deepEqual([city.T, city.N, city.F], [1295, 128, 2]);
  assert.deepEqual(city.featureNames, ['inflow', 'outflow']);
  // Reassembly check against the inputs of the next window: y[i,0] == x[i+1,-1], and val -> test.
  const val = readNpz(join(dataDir, 'nyc-bike-grid', 'val.npz'), ['x']).get('x')!;
  const test_ = readNpz(join(dataDir, 'nyc-bike-grid', 'test.npz'), ['x']).get('x')!;
  const per = 128 * 2;
  const xLast = (arr: typeof val, s: number, k: number) => arr.data[(s * 19 + 18) * per + k]!;
  for (const t of [0, 1, 200, 429]) for (let k = 0; k < per; k++) assert.equal(city.series[t * per + k], xLast(val, t + 1, k));
  for (let k = 0; k < per; k++) assert.equal(city.series[430 * per + k], xLast(test_, 0, k));
  for (const t of [431, 800, 1293]) for (let k = 0; k < per; k++) assert.equal(city.series[t * per + k], xLast(test_, t - 430, k));
  assert.deepEqual(minMax(city.series), [0, 239]);
  const degree = Array.from({ length: 128 }, (_, i) => nonZeros(city.adjacency.subarray(i * 128, (i + 1) * 128)));
  const counts = new Map<number, number>();
  for (const d of degree) counts.set(d, (counts.get(d) ?? 0) + 1);
  assert.deepEqual([...counts.entries()].sort((p, q) => p[0] - q[0]), [[3, 4], [5, 40], [8, 84]]);
  assert.equal(city.attributes.coordKind, 'grid');
  assert.deepEqual([city.attributes.coords![2 * 13], city.attributes.coords![2 * 13 + 1]], [5, 1]); // node 13 = row 1, col 5
  assert.equal(new Date(city.timestamps![1294]!).toISOString(), '2014-09-30T23:00:00.000Z');
  assert.match(city.source!, /inferred/);
});

test('npy: every supported dtype round-trips through encodeNpy/parseNpy; int64, bool, big-endian, version 2 and 3 headers', () => {
  const cases: Array<[ArrayLike<number> & { length: number }, string]> = [
    [new Float64Array([1.5, -2, 3e100]), '<f8'],
    [new Float32Array([1.5, -2, 0.1]), '<f4'],
    [new Int32Array([-7, 0, 2147483647]), '<i4'],
    [new Uint8Array([0, 200, 255]), '|u1'],
    [new Int8Array([-128, 0, 127]), '|i1'],
    [new Uint16Array([0, 65535, 7]), '<u2'],
  ];
  for (const [data, descr] of cases) {
    const back = parseNpy(encodeNpy(data as never, [3]), 'mem.npy');
    assert.equal(back.descr, descr);
    assert.deepEqual(back.shape, [3]);
    assert.deepEqual(Array.from(back.data), Array.from(data));
  }
  // int64 written as pairs of int32 words (little-endian): -5 and 2^40.
  const i64 = new BigInt64Array([-5n, 1n << 40n]);
  const asI64 = encodeNpy(new Int32Array(i64.buffer), [2, 2], {});
  const fixed = patchHeader(asI64, "'descr': '<i4'", "'descr': '<i8'", "(2, 2)", '(2,)  ');
  assert.deepEqual(Array.from(parseNpy(fixed, 'i64.npy').data), [-5, 2 ** 40]);
  // bool
  const b = parseNpy(encodeNpy(new Uint8Array([1, 0, 1]), [3], { descr: '|b1' }), 'b.npy');
  assert.deepEqual(Array.from(b.data), [1, 0, 1]);
  // big-endian float64
  const be = new Uint8Array(16);
  new DataView(be.buffer).setFloat64(0, 3.25, false);
  new DataView(be.buffer).setFloat64(8, -1, false);
  const beFile = encodeNpy(new Float64Array(be.buffer), [2], { descr: '>f8' });
  assert.deepEqual(Array.from(parseNpy(beFile, 'be.npy').data), [3.25, -1]);
  // version 2.0 (u32 header length) and 3.0 (utf-8) headers
  for (const major of [2, 3]) {
    const v1 = encodeNpy(new Float32Array([4, 5]), [2, 1]);
    const hlen = new DataView(v1.buffer).getUint16(8, true);
    const v2 = new Uint8Array(v1.length + 2);
    v2.set(v1.subarray(0, 8));
    v2[6] = major;
    new DataView(v2.buffer).setUint32(8, hlen, true);
    v2.set(v1.subarray(10), 12);
    const p = parseNpy(v2, `v${major}.npy`);
    assert.deepEqual(p.shape, [2, 1]);
    assert.deepEqual(Array.from(p.data), [4, 5]);
  }
  // Real file: adj_mx.npz holds one float64 (128, 128) array.
  const adj = readArray(join(dataDir, 'nyc-bike-grid', 'adj_mx.npz'));
  assert.equal(adj.descr, '<f8');
  assert.deepEqual(adj.shape, [128, 128]);
});

/** Replace header text in an encoded .npy, keeping the header length. */
function patchHeader(bytes: Uint8Array, ...pairs: string[]): Uint8Array {
  const out = bytes.slice();
  const hlen = new DataView(out.buffer).getUint16(8, true);
  let header = new TextDecoder('latin1').decode(out.subarray(10, 10 + hlen));
  for (let k = 0; k < pairs.length; k += 2) header = header.replace(pairs[k]!, pairs[k + 1]!);
  assert.equal(header.length, hlen);
  for (let i = 0; i < hlen; i++) out[10 + i] = header.charCodeAt(i);
  return out;
}

test('npy/npz series fixtures: dataset.npy [T, N, F] + matrix.npy load; npz members by key; missing "nan" masks NaN', () => {
  withTmp((dir) => {
    const T = 20;
    const N = 3;
    const F = 2;
    const data = new Float32Array(T * N * F).map((_, i) => i % 7);
    data[5] = NaN;
    writeFileSync(join(dir, 'dataset.npy'), encodeNpy(data, [T, N, F]));
    writeFileSync(join(dir, 'matrix.npy'), encodeNpy(new Float64Array([0, 1, 0, 1, 0, 2, 0, 2, 0]), [N, N]));
    writeFileSync(
      join(dir, 'city.json'),
      JSON.stringify({
        id: 'npy-fixture',
        intervalMinutes: 10,
        series: { format: 'npy', file: 'dataset.npy', missing: 'nan' },
        adjacency: { format: 'npy', file: 'matrix.npy' },
      }),
    );
    const city: City = loadCity(dir); // a folder holding city.json
    assert.deepEqual([city.T, city.N, city.F], [T, N, F]);
    assert.deepEqual(city.nodeIds, ['0', '1', '2']);
    assert.equal(city.mask![5], 0);
    assert.equal(city.series[5], 0);
    assert.equal(city.series[6], 6);
    assert.deepEqual(Array.from(city.adjacency), [0, 1, 0, 1, 0, 2, 0, 2, 0]);
    // Same arrays inside an npz.
    writeFileSync(join(dir, 'both.npz'), zipSync({ 'series.npy': encodeNpy(data, [T, N, F]), 'adj.npy': encodeNpy(new Float64Array(9), [3, 3]) }));
    const keys = [...readNpz(join(dir, 'both.npz')).keys()].sort();
    assert.deepEqual(keys, ['adj', 'series']);
    assert.throws(() => readNpz(join(dir, 'both.npz'), ['y']), (e: unknown) => e instanceof DataError && /both\.npz.*no array named "y".*series, adj/.test(e.message));
  });
});

test('node-link fixture: undirected document gives both directions; binary weights; ids as strings', () => {
  withTmp((dir) => {
    const ys = (k: number) => Array.from({ length: 18 }, (_, t) => t + k);
    const doc = {
      directed: false,
      nodes: [{ id: 'a', y: ys(0), x: 0, z: 1 }, { id: 'b', y: ys(1), x: 1, z: 1 }, { id: 'c', y: ys(2), x: 2, z: 0 }],
      links: [{ source: 'a', target: 'b', weight: 100 }, { source: 'b', target: 'c', weight: 300 }],
    };
    writeFileSync(join(dir, 'g.json'), JSON.stringify(doc));
    writeFileSync(
      join(dir, 'nl.city.json'),
      JSON.stringify({
        id: 'nl',
        intervalMinutes: 60,
        series: { format: 'node-link', file: 'g.json' },
        adjacency: { format: 'node-link', file: 'g.json', weight: 'binary' },
        attributes: { coords: { format: 'node-link', file: 'g.json', x: 'x', y: 'z', kind: 'planar' } },
      }),
    );
    const city = loadCity(join(dir, 'nl.city.json'));
    assert.deepEqual(city.nodeIds, ['a', 'b', 'c']);
    assert.deepEqual(Array.from(city.adjacency), [0, 1, 0, 1, 0, 1, 0, 1, 0]);
    assert.deepEqual(Array.from(city.attributes.coords!), [0, 1, 1, 1, 2, 0]);
    assert.equal(city.series[1 * 3 + 2], 3); // step 1, node c
  });
});

test('timestamps: zone-less times are UTC clock times; offsets apply; impossible dates are rejected, not rolled over', () => {
  const iso = (s: string) => new Date(parseTimestamp(s, 'iso', () => 'cell')).toISOString();
  assert.equal(iso('2020-10-01T00:00'), '2020-10-01T00:00:00.000Z');
  assert.equal(iso('2020-10-01'), '2020-10-01T00:00:00.000Z');
  assert.equal(iso('2020-10-01 05:30:15.5'), '2020-10-01T05:30:15.500Z');
  assert.equal(iso('2020-10-01T05:30+02:00'), '2020-10-01T03:30:00.000Z');
  assert.equal(new Date(parseTimestamp('1/31/2015 23:45', 'M/D/YYYY H:MM', () => 'c')).toISOString(), '2015-01-31T23:45:00.000Z');
  assert.equal(new Date(parseTimestamp('31/1/2015 23:45', 'D/M/YYYY H:MM', () => 'c')).toISOString(), '2015-01-31T23:45:00.000Z');
  for (const bad of ['2020-02-30T00:00', '2020-13-01', '2020-10-01T24:00', 'yesterday']) {
    assert.throws(() => parseTimestamp(bad, 'iso', () => 'f.csv, line 3, column 1'), /f\.csv, line 3, column 1: ".*" is not an ISO 8601 timestamp/);
  }
  assert.throws(() => parseTimestamp('2/30/2015 0:00', 'M/D/YYYY H:MM', () => 'c'), /is not a M\/D\/YYYY H:MM timestamp/);
});
