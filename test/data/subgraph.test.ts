import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { regionSubgraph, allRegionSubgraphs } from '../../src/data/subgraph.js';
import { DataError, type City } from '../../src/data/city.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dataRoot = path.resolve(projectRoot, '../shared/data');

function graphCity(N: number, edges: Array<[number, number, number]>, diagonal = 0): City {
  const adjacency = new Float32Array(N * N);
  for (let i = 0; i < N; i++) adjacency[i * N + i] = diagonal;
  for (const [i, j, w] of edges) adjacency[i * N + j] = w;
  return { id: 'g', intervalMinutes: 60, nodeIds: Array.from({ length: N }, (_, i) => `v${i}`), T: 1, N, F: 1, series: new Float32Array(N), adjacency, attributes: {} };
}

function close(a: ArrayLike<number>, b: number[], tol = 1e-6): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < tol, `index ${i}: ${a[i]} vs ${b[i]}`);
}

test('centre first, then 1-hop neighbours of either edge direction ascending; symmetrised, self-loop = strongest edge, rows sum to 1', () => {
  // 4 -> 2 (0.5), 2 -> 0 (2), 1 -> 2 (1), 2 -> 1 (0.25), node 3 isolated.
  const city = graphCity(5, [[4, 2, 0.5], [2, 0, 2], [1, 2, 1], [2, 1, 0.25]]);
  const sub = regionSubgraph(city, 2);
  assert.deepEqual(sub.nodes, [2, 0, 1, 4]);
  assert.equal(sub.n, 4);
  assert.equal(sub.center, 2);
  // Symmetrised weights (max of both directions), diagonal = 2 (strongest edge in the city):
  // row 2: [self 2, 0:2, 1:1, 4:0.5] / 5.5; row 0: [0:2 (self), 2:2] / 4; row 1: [1:2, 2:1] / 3; row 4: [4:2, 2:0.5] / 2.5
  close(sub.adjacency, [
    2 / 5.5, 2 / 5.5, 1 / 5.5, 0.5 / 5.5,
    2 / 4, 2 / 4, 0, 0,
    1 / 3, 0, 2 / 3, 0,
    0.5 / 2.5, 0, 0, 2 / 2.5,
  ]);
  const iso = regionSubgraph(city, 3);
  assert.deepEqual(iso.nodes, [3]);
  close(iso.adjacency, [1]);
  // A stored diagonal does not change the result (self-loops are set, not added).
  close(regionSubgraph(graphCity(5, [[4, 2, 0.5], [2, 0, 2], [1, 2, 1], [2, 1, 0.25]], 7), 2).adjacency, Array.from(sub.adjacency));
  assert.equal(allRegionSubgraphs(city).length, 5);
});

test('bad region index and negative weights are DataErrors naming the node', () => {
  const city = graphCity(3, [[0, 1, 1]]);
  assert.throws(() => regionSubgraph(city, 3), DataError);
  assert.throws(() => regionSubgraph(graphCity(3, [[0, 1, -1]]), 0), /v0 -> v1 \(row 0, column 1\)/);
});

test('la-loop real adjacency: every subgraph is well formed', () => {
  const text = readFileSync(path.join(dataRoot, 'la-loop', 'los_adj.csv'), 'utf8').trim().split('\n');
  const N = text.length;
  assert.equal(N, 207);
  const adjacency = new Float32Array(N * N);
  text.forEach((line, i) => line.split(',').forEach((v, j) => (adjacency[i * N + j] = Number(v))));
  const city: City = { id: 'la-loop', intervalMinutes: 5, nodeIds: Array.from({ length: N }, (_, i) => String(i)), T: 1, N, F: 1, series: new Float32Array(N), adjacency, attributes: {} };
  const subs = allRegionSubgraphs(city);
  let sizeSum = 0;
  for (const s of subs) {
    sizeSum += s.n;
    assert.equal(s.nodes[0], s.center);
    for (let k = 2; k < s.n; k++) assert.ok(s.nodes[k]! > s.nodes[k - 1]!);
    for (let a = 0; a < s.n; a++) {
      let row = 0;
      for (let b = 0; b < s.n; b++) {
        const w = s.adjacency[a * s.n + b]!;
        assert.ok(w >= 0);
        row += w;
      }
      assert.ok(Math.abs(row - 1) < 1e-5);
      assert.ok(s.adjacency[a * s.n + a]! > 0);
    }
    // Membership is symmetric: j is in i's subgraph iff i is in j's.
    for (const j of s.nodes.slice(1)) assert.ok(subs[j]!.nodes.includes(s.center));
  }
  // Measured: mean subgraph size 13.69 nodes (max 26) on la-loop; a range check that edges were read.
  const mean = sizeSum / N;
  assert.ok(mean > 5 && mean < 15, `mean subgraph size ${mean}`);
});
