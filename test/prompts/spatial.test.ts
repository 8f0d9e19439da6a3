import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { allRegionSubgraphs } from '../../src/data/subgraph.js';
import {
  categoryOneHot,
  coordFeatures,
  embeddingFeatures,
  randomWalkFeatures,
  structureFeatures,
  STRUCTURE_FEATURES,
  undirectedNeighbours,
} from '../../src/prompts/spatial.js';
import { tinyCity } from './fixtures.js';

function graphCity(N: number, entries: [number, number, number][]) {
  const adjacency = new Float32Array(N * N);
  for (const [i, j, w] of entries) adjacency[i * N + j] = w;
  return tinyCity({ N, days: 1, intervalMinutes: 60, value: () => 1, adjacency });
}

test('structure features of a small directed graph (diagonal ignored)', () => {
  // 0<->1 (weight 2), 0<->2 (1), 1->2 only (1), self-loop on 0, node 3 isolated
  const c = graphCity(4, [[0, 1, 2], [1, 0, 2], [0, 2, 1], [2, 0, 1], [1, 2, 1], [0, 0, 5]]);
  const f = structureFeatures(c);
  const D = STRUCTURE_FEATURES.length;
  const row = (n: number) => Array.from(f.subarray(n * D, (n + 1) * D), (v) => +v.toFixed(5));
  const meanW = (3 + 2.5 + 1.5 + 0) / 4; // mean over nodes of (weighted in + weighted out) / 2
  const r = (x: number) => +x.toFixed(5);
  // [log1p in, log1p out, rel weighted in, rel weighted out, log subgraph size, clustering, rel degree]
  assert.deepEqual(row(0), [Math.log1p(2), Math.log1p(2), 3 / meanW, 3 / meanW, Math.log(3), 1, 2 / 1.5].map(r));
  assert.deepEqual(row(1), [Math.log1p(1), Math.log1p(2), 2 / meanW, 3 / meanW, Math.log(3), 1, 2 / 1.5].map(r));
  assert.deepEqual(row(2), [Math.log1p(2), Math.log1p(1), 2 / meanW, 1 / meanW, Math.log(3), 1, 2 / 1.5].map(r));
  assert.deepEqual(row(3), [0, 0, 0, 0, 0, 0, 0]);
});

test('neighbour lists are exactly the subgraph members of regionSubgraph', () => {
  const [c] = generateSyntheticCities({ seed: 3, cities: 1 });
  const nbrs = undirectedNeighbours(c!);
  allRegionSubgraphs(c!).forEach((s, n) => assert.deepEqual([n, ...nbrs[n]!], s.nodes));
});

test('lazy random-walk return probabilities match closed forms', () => {
  // triangle: P = I/2 + (J - I)/4 has eigenvalues 1 and 1/4 (twice): p_k = 1/3 + (2/3) 4^-k
  const tri = graphCity(5, [[0, 1, 1], [1, 2, 1], [2, 0, 1], [3, 4, 1]]);
  const steps = [1, 2, 4, 8];
  const rw = randomWalkFeatures(tri, steps);
  for (const [k, s] of steps.entries()) {
    assert.ok(Math.abs(rw[0 * 4 + k]! - (1 / 3 + (2 / 3) * 4 ** -s)) < 1e-6, `triangle step ${s}`);
    assert.ok(Math.abs(rw[3 * 4 + k]! - 0.5) < 1e-6, `edge step ${s}`); // a single edge mixes in one lazy step
  }
  const iso = randomWalkFeatures(graphCity(2, []), [3]);
  assert.deepEqual(Array.from(iso), [1, 1]);
  // relabelling the nodes permutes the features: nothing depends on node order
  const perm = graphCity(5, [[4, 3, 1], [3, 2, 1], [2, 4, 1], [1, 0, 1]]);
  const rp = randomWalkFeatures(perm, steps);
  const map = [4, 3, 2, 1, 0];
  for (let n = 0; n < 5; n++) for (let k = 0; k < 4; k++) assert.ok(Math.abs(rw[n * 4 + k]! - rp[map[n]! * 4 + k]!) < 1e-9);
});

test('coordinates are relative to the city: invariant to translation and scale; lat/lon projected to km', () => {
  const base = graphCity(4, []);
  const pts = [0, 0, 2, 0, 0, 1, 3, 3];
  base.attributes.coords = Float32Array.from(pts);
  base.attributes.coordKind = 'planar';
  const moved = graphCity(4, []);
  moved.attributes.coords = Float32Array.from(pts, (v, i) => 1000 + 50 * v + (i % 2) * 7); // scaled 50x, shifted
  moved.attributes.coordKind = 'planar';
  const a = coordFeatures(base)!;
  const b = coordFeatures(moved)!;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-4, `dim ${i}: ${a[i]} vs ${b[i]}`);
  // RMS radius is 1 by construction
  let r2 = 0;
  for (let n = 0; n < 4; n++) r2 += a[n * 3 + 2]! ** 2;
  assert.ok(Math.abs(r2 / 4 - 1) < 1e-5);
  // the same shape in degrees near lat 34 (1 unit = 1 km) gives the same features
  const geo = graphCity(4, []);
  const cos34 = Math.cos((34 * Math.PI) / 180);
  geo.attributes.coords = Float32Array.from(pts, (v, i) => (i % 2 === 0 ? -118 + v / (111.32 * cos34) : 34 + v / 110.574));
  geo.attributes.coordKind = 'latlon';
  const g = coordFeatures(geo)!;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - g[i]!) < 2e-3, `latlon dim ${i}: ${a[i]} vs ${g[i]}`);
  assert.equal(coordFeatures(graphCity(3, [])), null);
});

test('categories: one-hot over the known classes with an unknown slot; malformed embeddings name the city', () => {
  const c = graphCity(3, []);
  c.id = 'cat-city';
  c.attributes.categories = { poi: Int32Array.from([2, 5, 9]) };
  assert.deepEqual(Array.from(categoryOneHot(c, 'poi', [2, 5])!), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.equal(categoryOneHot(c, 'landuse', [1]), null);
  c.attributes.embeddings = { kg: { dim: 2, data: new Float32Array(5) } };
  assert.throws(() => embeddingFeatures(c, 'kg'), /city cat-city: embedding "kg" holds 5 values, expected N x dim = 3 x 2/);
  c.attributes.embeddings = { kg: { dim: 2, data: Float32Array.from([0, 1, 2, NaN, 4, 5]) } };
  assert.throws(() => embeddingFeatures(c, 'kg'), /city cat-city: embedding "kg" has a non-finite value at node n1, dim 1/);
});
