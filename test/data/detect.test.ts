/**
 * Folders without a city.json: detection of the series and graph files (real la-loop and didi files
 * copied to temp folders, and small files written here), `gpd data init` writing a manifest that
 * loads the same city, and every ambiguity error naming the files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { loadCity, loadDetectedCity } from '../../src/data/load.js';
import { detectCityFolder } from '../../src/data/detect.js';
import { initCityFolder } from '../../src/data/init.js';
import { encodeNpy } from '../../src/data/loaders/npy.js';
import { DataError } from '../../src/data/city.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const shared = resolve(root, '../shared/data');

function folder(files: Record<string, string | Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-detect-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
function withFolder(files: Record<string, string | Uint8Array>, fn: (dir: string) => void): void {
  const dir = folder(files);
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const dataError = (re: RegExp) => (e: Error) => e instanceof DataError && re.test(e.message);

/** T rows of N nodes: value(t, n) = 10 n + t mod 7 (+ 1, so no zeros), optional ISO timestamps every `interval` min. */
function wideCsv(T: number, N: number, opts: { header?: string[] | null; interval?: number; blank?: [number, number] } = {}): string {
  const lines: string[] = [];
  const header = opts.header === undefined ? Array.from({ length: N }, (_, n) => `s${n}`) : opts.header;
  if (header) lines.push([...(opts.interval ? ['time'] : []), ...header].join(','));
  for (let t = 0; t < T; t++) {
    const cells = Array.from({ length: N }, (_, n) => (opts.blank && opts.blank[0] === t && opts.blank[1] === n ? '' : String(10 * n + (t % 7) + 1)));
    if (opts.interval) cells.unshift(new Date(Date.UTC(2024, 0, 1) + t * opts.interval * 60_000).toISOString().slice(0, 16));
    lines.push(cells.join(','));
  }
  return lines.join('\n') + '\n';
}
const ring = (N: number) => Array.from({ length: N }, (_, i) => Array.from({ length: N }, (_, j) => (Math.abs(i - j) === 1 || Math.abs(i - j) === N - 1 ? 1 : 0)).join(',')).join('\n') + '\n';

test('x_flow.csv + x_adj.csv (the la-loop files, copied): detected, inspected without an interval, and init writes a manifest that loads the la-loop city', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-detect-la-'));
  try {
    copyFileSync(join(shared, 'la-loop/los_speed.csv'), join(dir, 'x_flow.csv'));
    copyFileSync(join(shared, 'la-loop/los_adj.csv'), join(dir, 'x_adj.csv'));
    const d = detectCityFolder(dir);
    assert.equal(d.series.file, 'x_flow.csv');
    assert.equal(d.graph.file, 'x_adj.csv');
    assert.deepEqual(d.manifest['series'], { format: 'wide-csv', file: 'x_flow.csv', header: true });
    assert.deepEqual(d.manifest['adjacency'], { format: 'dense-csv', file: 'x_adj.csv' });
    assert.equal(d.intervalMinutes, undefined);
    assert.match(d.unknown.join('\n'), /no timestamps; pass --interval/);
    // Commands that need the interval ask for it; inspect reports the rest.
    assert.throws(() => loadCity(dir), dataError(/no city\.json .*--interval/));
    const seen = loadDetectedCity(dir, { allowUnknownInterval: true });
    assert.equal(seen.intervalKnown, false);
    assert.equal(seen.city.N, 207);
    assert.equal(seen.city.T, 2016);
    assert.match(seen.city.source!, /series x_flow\.csv .*graph x_adj\.csv/);

    assert.throws(() => initCityFolder(dir), dataError(/nothing written: the interval could not be inferred/));
    assert.equal(existsSync(join(dir, 'city.json')), false);
    const r = initCityFolder(dir, { intervalMinutes: 5 });
    assert.equal(JSON.parse(readFileSync(r.file, 'utf8')).intervalMinutes, 5);
    assert.throws(() => initCityFolder(dir, { intervalMinutes: 5 }), dataError(/exists; pass --force/));
    const mine = loadCity(dir);
    const la = loadCity(join(root, 'cities/la-loop.city.json'));
    assert.deepEqual(mine.nodeIds, la.nodeIds);
    assert.deepEqual(mine.series, la.series);
    assert.deepEqual(mine.adjacency, la.adjacency);
    assert.equal(mine.intervalMinutes, 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the whole la-loop folder (copied) is ambiguous: two graph files, named; --graph picks one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-detect-la2-'));
  try {
    for (const f of ['los_speed.csv', 'los_adj.csv', 'Adj(METR).txt', 'SE(METR).txt', 'graph_sensor_ids.txt', 'graph_sensor_locations.csv']) copyFileSync(join(shared, 'la-loop', f), join(dir, f));
    assert.throws(() => detectCityFolder(dir), dataError(/2 candidate graph files, pick one with --graph.*\n.*Adj\(METR\)\.txt \(edge list, 42849 edges, weighted\)\n.*los_adj\.csv \(dense 207x207 matrix\)/));
    const d = detectCityFolder(dir, { graph: 'Adj(METR).txt', intervalMinutes: 5 });
    assert.equal(d.series.file, 'los_speed.csv');
    assert.match(d.notes.join('\n'), /not used: SE\(METR\)\.txt \(node2vec embedding of 207 nodes/);
    assert.match(d.notes.join('\n'), /not used: graph_sensor_locations\.csv \(coordinates table/);
    // The directed edge list and the symmetrised dense matrix hold the same links (la-loop's manifest notes).
    const city = loadDetectedCity(dir, { graph: 'Adj(METR).txt', intervalMinutes: 5 }).city;
    assert.equal(city.N, 207);
    assert.throws(() => detectCityFolder(dir, { graph: 'nope.csv' }), dataError(/--graph nope\.csv is not a graph file there; graph candidates:/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a wide CSV with timestamps and an edge list of named ends with distances: interval, id references and the distance kernel inferred', () => {
  const edges = 'from,to,distance\n' + Array.from({ length: 6 }, (_, i) => `s${i},s${(i + 1) % 6},${100 + 10 * i}`).join('\n') + '\n';
  withFolder({ 'readings.csv': wideCsv(40, 6, { interval: 10 }), 'edges.csv': edges, 'README.md': '# my city\n' }, (dir) => {
    const d = detectCityFolder(dir);
    assert.equal(d.intervalMinutes, 10);
    assert.deepEqual(d.manifest['series'], { format: 'wide-csv', file: 'readings.csv', header: true, timestampColumn: 'time' });
    assert.deepEqual(d.manifest['adjacency'], { format: 'edge-list', file: 'edges.csv', header: true, weight: 'gaussian-distance', nodeRef: 'id' });
    const city = loadCity(dir);
    assert.equal(city.intervalMinutes, 10);
    assert.equal(city.timestamps![0], Date.UTC(2024, 0, 1));
    assert.ok(city.adjacency[0 * 6 + 1]! > 0 && city.adjacency[0 * 6 + 2] === 0);
    assert.throws(() => detectCityFolder(dir, { intervalMinutes: 5 }), dataError(/--interval 5 but the timestamps of readings\.csv step by 10 min/));
  });
});

test('M/D/YYYY timestamps, a headerless count file, a 1-based unweighted edge list and empty cells (read as missing)', () => {
  const lines = Array.from({ length: 30 }, (_, t) => {
    const h = t % 24;
    const day = 1 + Math.floor(t / 24);
    return [`3/${day}/2024 ${h}:00`, ...Array.from({ length: 4 }, (_, n) => (t === 5 && n === 2 ? '' : String((n + t) % 5)))].join(',');
  });
  withFolder({ 'counts.csv': lines.join('\n') + '\n', 'graph.txt': '1 2\n2 3\n3 4\n4 1\n' }, (dir) => {
    const d = detectCityFolder(dir);
    assert.deepEqual(d.manifest['series'], { format: 'wide-csv', file: 'counts.csv', header: false, timestampColumn: 0, timestampFormat: 'M/D/YYYY H:MM', missing: 'nan' });
    assert.deepEqual(d.manifest['adjacency'], { format: 'edge-list', file: 'graph.txt', indexBase: 1 });
    assert.equal(d.intervalMinutes, 60);
    assert.match(d.inferred.join('\n'), /1 empty or NaN cells .* are read as missing/);
    assert.match(d.notes.join('\n'), /0 appears in .*% of readings; if 0 means "no reading"/);
    const city = loadCity(dir);
    assert.deepEqual(city.nodeIds, ['0', '1', '2', '3']);
    assert.equal(city.mask![5 * 4 + 2], 0);
    assert.equal(city.adjacency[0 * 4 + 1], 1);
  });
});

test('an npz folder (series and graph in one archive) and an npy pair: detected by shape; the interval is asked for', () => {
  const T = 30;
  const N = 5;
  const x = new Float32Array(T * N).map((_, i) => 1 + (i % 9));
  const adj = new Float32Array(N * N).map((_, i) => (Math.floor(i / N) === (i % N) + 1 ? 1 : 0));
  const npz = zipSync({ 'flow.npy': encodeNpy(x, [T, N]), 'adj.npy': encodeNpy(adj, [N, N]) });
  withFolder({ 'city.npz': npz }, (dir) => {
    const d = detectCityFolder(dir, { intervalMinutes: 15 });
    assert.deepEqual(d.manifest['series'], { format: 'npz', file: 'city.npz', key: 'flow' });
    assert.deepEqual(d.manifest['adjacency'], { format: 'npz', file: 'city.npz', key: 'adj' });
    assert.throws(() => loadCity(dir), dataError(/city\.npz has no timestamps; pass --interval/));
    const city = loadCity(dir, { intervalMinutes: 15 });
    assert.equal(city.N, N);
    assert.equal(city.series[7], x[7]);
    assert.equal(city.adjacency[1 * N + 0], 1);
  });
  withFolder({ 'data.npy': encodeNpy(x, [T, N]), 'matrix.npy': encodeNpy(adj, [N, N]) }, (dir) => {
    const d = detectCityFolder(dir, { intervalMinutes: 15 });
    assert.equal(d.series.file, 'data.npy');
    assert.equal(d.graph.file, 'matrix.npy');
  });
});

test('a node-link JSON file is both the series and the graph', () => {
  const doc = {
    directed: true,
    nodes: Array.from({ length: 4 }, (_, k) => ({ id: `stop${k}`, y: Array.from({ length: 20 }, (_, t) => k + t) })),
    links: [
      { source: 'stop0', target: 'stop1', weight: 2 },
      { source: 'stop1', target: 'stop2', weight: 1 },
    ],
  };
  withFolder({ 'bus.json': JSON.stringify(doc) }, (dir) => {
    const d = detectCityFolder(dir, { intervalMinutes: 60 });
    assert.deepEqual(d.manifest['series'], { format: 'node-link', file: 'bus.json', idKey: 'id', seriesKey: 'y' });
    assert.deepEqual(d.manifest['adjacency'], { format: 'node-link', file: 'bus.json', idKey: 'id', weightKey: 'weight' });
    const city = loadCity(dir, { intervalMinutes: 60 });
    assert.deepEqual(city.nodeIds, ['stop0', 'stop1', 'stop2', 'stop3']);
    assert.equal(city.adjacency[0 * 4 + 1], 2);
  });
});

test('ambiguity errors name the files: two series, no series, no graph, sizes that do not line up', () => {
  withFolder({ 'a.csv': wideCsv(30, 6), 'b.csv': wideCsv(25, 6), 'adj.csv': ring(6) }, (dir) => {
    assert.throws(() => detectCityFolder(dir), dataError(/2 candidate series files, pick one with --series .*\n {2}a\.csv \(wide CSV, 30 steps x 6 nodes.*\n {2}b\.csv \(wide CSV, 25 steps x 6 nodes/));
    assert.equal(detectCityFolder(dir, { series: 'b.csv' }).series.file, 'b.csv');
  });
  // A series of another size than the single graph is set aside, and said so.
  withFolder({ 'a.csv': wideCsv(30, 6), 'other.csv': wideCsv(30, 4), 'adj.csv': ring(6) }, (dir) => {
    const d = detectCityFolder(dir);
    assert.equal(d.series.file, 'a.csv');
    assert.match(d.notes.join('\n'), /set aside other\.csv .*does not match the graph's nodes/);
  });
  withFolder({ 'adj.csv': ring(6), 'notes.txt': 'hello world\n' }, (dir) => {
    assert.throws(() => detectCityFolder(dir), dataError(/no series file found .*\ngraph candidates:\n {2}adj\.csv \(dense 6x6 matrix\)\nother files looked at:\n {2}notes\.txt/s));
  });
  withFolder({ 'a.csv': wideCsv(30, 6) }, (dir) => {
    assert.throws(() => detectCityFolder(dir), dataError(/no graph file found .*\nseries candidates:\n {2}a\.csv/));
  });
  withFolder({ 'a.csv': wideCsv(30, 6), 'adj.csv': ring(4) }, (dir) => {
    assert.throws(() => loadCity(dir, { intervalMinutes: 5 }), /adjacency .*adj\.csv has 4 nodes but the series has 6/);
  });
  withFolder({ 'a.csv': wideCsv(30, 6), 'edges.txt': '0 1\n1 9\n' }, (dir) => {
    assert.throws(() => detectCityFolder(dir), dataError(/edges\.txt: edge end 9 but the series a\.csv has 6 nodes/));
  });
});

test('gpd data inspect and gpd data init on a folder of files (the executable)', () => {
  withFolder({ 'x_flow.csv': wideCsv(40, 5, { header: null }), 'x_adj.csv': ring(5) }, (dir) => {
    const gpd = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/gpd.js'), ...args], { cwd: root, encoding: 'utf8' });
    const inspect = gpd('data', 'inspect', dir);
    assert.equal(inspect.status, 0, inspect.stderr);
    assert.match(inspect.stdout, /nodes:\s+5\n/);
    assert.match(inspect.stdout, /steps:\s+40\n/);
    assert.match(inspect.stdout, /interval:\s+unknown \(no timestamps; pass --interval <minutes>\)/);
    assert.match(inspect.stdout, /source:\s+detected in .*series x_flow\.csv .*graph x_adj\.csv/);
    assert.match(inspect.stdout, /edges:\s+10 directed \(symmetric\)/);
    const init = gpd('data', 'init', dir);
    assert.equal(init.status, 2);
    assert.match(init.stderr, /unknown +interval: x_flow\.csv has no timestamps; pass --interval/);
    const ok = gpd('data', 'init', dir, '--interval', '10', '--id', 'my-city');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /wrote .*city\.json: city "my-city", 5 nodes, 40 steps of 10 min/);
    assert.match(gpd('data', 'inspect', dir).stdout, /interval:\s+10 min/);
  });
});
