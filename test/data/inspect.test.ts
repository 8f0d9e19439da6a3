/**
 * inspectCity on the real cities reproduces the PROVENANCE.md facts; on a hand-made city every
 * statistic is checked against values worked out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { City } from '../../src/data/city.js';
import { formatInspect, inspectCity } from '../../src/data/inspect.js';
import { loadCity } from '../../src/data/load.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const manifest = (id: string) => join(projectRoot, 'cities', `${id}.city.json`);
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('la-loop: 207 nodes, 2016 steps at 5 min, 7 days, mean 58.89 / std 12.53, no missing, 2626 off-diagonal edges', () => {
  const r = inspectCity(loadCity(manifest('la-loop')));
  assert.equal(r.nodes, 207);
  assert.equal(r.steps, 2016);
  assert.equal(r.intervalMinutes, 5);
  assert.equal(r.timeSpan.days, 7);
  assert.equal(r.missingShare, 0);
  close(r.featureStats[0]!.mean, 58.89, 0.005, 'mean');
  close(r.featureStats[0]!.std, 12.53, 0.005, 'std');
  assert.equal(r.featureStats[0]!.min, 1);
  assert.equal(r.featureStats[0]!.max, 70);
  // 2833 non-zeros include the 207 diagonal ones.
  assert.equal(r.graph.edges, 2833 - 207);
  assert.equal(r.graph.selfLoops, 207);
  assert.equal(r.graph.symmetric, true);
  close(r.graph.density, 2626 / (207 * 206), 1e-12, 'density');
  assert.equal(r.attributes.coordKind, 'latlon');
  assert.deepEqual(r.attributes.embeddings, { node2vec: 64 });
});

test('shenzhen-sztaxi40: missing share = the 0.0613 zero fraction; observed-only mean = 17.17 / (1 - 0.0613)', () => {
  const r = inspectCity(loadCity(manifest('shenzhen-sztaxi40')));
  assert.equal(r.nodes, 40);
  assert.equal(r.steps, 2976);
  close(r.missingShare, 0.0613, 5e-4, 'missing share');
  // PROVENANCE's mean 17.17 counts the zeros; inspect averages observed readings only.
  close(r.featureStats[0]!.mean, 17.17 / (1 - r.missingShare), 0.01, 'observed mean');
  assert.equal(r.featureStats[0]!.observed, Math.round(2976 * 40 * (1 - r.missingShare)));
  assert.equal(r.timeSpan.start, '2015-01-01T00:00:00.000Z');
  assert.equal(r.timeSpan.end, '2015-01-31T23:45:00.000Z');
  // sz_adj[:40,:40]: 95 ones, 4 isolated nodes, asymmetric entries kept.
  assert.equal(r.graph.edges, 95);
  assert.equal(r.graph.degree.isolated, 4);
  assert.equal(r.graph.symmetric, false);
  assert.deepEqual(r.attributes.categories, ['poi']);
});

test('montevideo-bus: 675 nodes x 744 steps, mean 0.746 inflow, 690 directed links, every stop linked', () => {
  const r = inspectCity(loadCity(manifest('montevideo-bus')));
  assert.equal(r.nodes, 675);
  assert.equal(r.steps, 744);
  assert.equal(r.intervalMinutes, 60);
  close(r.featureStats[0]!.mean, 0.746, 0.0005, 'mean');
  assert.equal(r.featureStats[0]!.max, 101);
  assert.equal(r.graph.edges, 690);
  assert.equal(r.graph.symmetric, false);
  // 9 stops have in-degree 0 but all have an outgoing or incoming link.
  assert.equal(r.graph.degree.isolated, 0);
  assert.equal(r.timeSpan.days, 31);
});

test('nyc-bike-grid: 1295 steps, 128 nodes, 2 features, grid degrees 3/5/8', () => {
  const r = inspectCity(loadCity(manifest('nyc-bike-grid')));
  assert.equal(r.steps, 1295);
  assert.equal(r.nodes, 128);
  assert.deepEqual(r.features, ['inflow', 'outflow']);
  assert.equal(r.featureStats.length, 2);
  assert.deepEqual([r.graph.degree.min, r.graph.degree.max, r.graph.degree.isolated], [3, 8, 0]);
  close(r.graph.degree.mean, (4 * 3 + 40 * 5 + 84 * 8) / 128, 1e-12, 'mean degree');
  assert.equal(r.graph.edges, 4 * 3 + 40 * 5 + 84 * 8);
  assert.equal(r.featureStats[1]!.max, 239);
  assert.equal(r.timeSpan.end, '2014-09-30T23:00:00.000Z');
});

test('hand-made city: masked stats, either-direction degree, density, and aligned formatInspect lines', () => {
  const T = 18;
  const N = 3;
  // Feature 0 of node 0 holds 1, 2, 3 ... ; node 1 has one masked reading; feature 1 is constant 5.
  const series = new Float32Array(T * N * 2);
  const mask = new Uint8Array(T * N * 2).fill(1);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      series[(t * N + n) * 2] = t + n;
      series[(t * N + n) * 2 + 1] = 5;
    }
  }
  mask[(4 * N + 1) * 2] = 0;
  series[(4 * N + 1) * 2] = 0;
  const city: City = {
    id: 'hand',
    intervalMinutes: 30,
    nodeIds: ['x', 'y', 'z'],
    T,
    N,
    F: 2,
    series,
    mask,
    adjacency: new Float32Array([1, 0.5, 0, 0, 0, 0, 0, 0, 0]), // self loop on x, one directed edge x -> y, z isolated
    attributes: {},
    featureNames: ['a', 'b'],
  };
  const r = inspectCity(city);
  assert.equal(r.missingShare, 1 / (T * N * 2));
  // Observed feature-0 values: t + n for all (t, n) except (4, 1).
  const vals: number[] = [];
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) if (!(t === 4 && n === 1)) vals.push(t + n);
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
  assert.equal(r.featureStats[0]!.observed, T * N - 1);
  close(r.featureStats[0]!.mean, mean, 1e-12, 'mean');
  close(r.featureStats[0]!.std, std, 1e-12, 'std');
  assert.deepEqual([r.featureStats[1]!.mean, r.featureStats[1]!.std], [5, 0]);
  assert.equal(r.graph.edges, 1);
  assert.equal(r.graph.selfLoops, 1);
  close(r.graph.density, 1 / 6, 1e-12, 'density');
  assert.deepEqual(r.graph.degree, { min: 0, mean: 2 / 3, max: 1, isolated: 1 });
  assert.deepEqual(r.timeSpan, { start: null, end: null, days: (18 * 30) / 1440 });

  const text = formatInspect(r);
  const lines = text.split('\n');
  // Column where each value starts (keys contain no ':').
  const valueColumn = lines.map((l) => l.indexOf(':') + 1 + l.slice(l.indexOf(':') + 1).search(/\S/));
  assert.ok(valueColumn.every((c) => c === valueColumn[0]), `values not aligned:\n${text}`);
  assert.match(text, /^nodes: +3$/m);
  assert.match(text, /^steps: +18$/m);
  assert.match(text, /^interval: +30 min$/m);
  assert.match(text, /^missing share: +0\.93%$/m);
  assert.match(text, /^degree: +min 0, mean 0\.6667, max 1, isolated 1$/m);
  assert.match(text, /^b stats: +mean 5, std 0, min 5, max 5 over 54 observed$/m);
  assert.match(text, /^time span: +0\.375 days \(no timestamps\)$/m);
});
