/**
 * A region = one node; its subgraph = the node plus its 1-hop neighbours (an edge in either
 * direction), as PROTOCOL.md says. The centre is always index 0 (losses read the centre there).
 *
 * Adjacency conventions (documented in docs/protocol-impl.md):
 *  - symmetrised: w(a,b) = max(adj[a->b], adj[b->a]), because membership already ignores direction
 *    and a neighbour that only points into the centre must still feed it;
 *  - self-loops: the diagonal is set to the strongest edge weight of the whole city (1 for binary
 *    graphs), replacing any stored diagonal, so datasets with and without stored self-loops agree and
 *    the self weight does not depend on the unit of the edge weights;
 *  - each row is divided by its sum (row-normalised, rows sum to 1).
 */
import type { City } from './city.js';
import { DataError } from './city.js';

export interface RegionSubgraph {
  center: number;
  /** City node indices: centre first, then neighbours ascending. */
  nodes: number[];
  n: number;
  /** [n, n] row-normalised with self-loops, row-major. */
  adjacency: Float32Array;
}

const maxWeightCache = new WeakMap<Float32Array, number>();

/** Largest off-diagonal weight of the city (validated non-negative and finite); 1 for edgeless graphs. */
function maxEdgeWeight(city: City): number {
  const cached = maxWeightCache.get(city.adjacency);
  if (cached !== undefined) return cached;
  const { N, adjacency: A } = city;
  if (A.length !== N * N) throw new DataError(`city ${city.id}: adjacency has ${A.length} entries, expected ${N}x${N}`);
  let max = 0;
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const w = A[i * N + j]!;
      if (!(w >= 0) || !Number.isFinite(w)) {
        throw new DataError(`city ${city.id}: adjacency weight ${w} of edge ${city.nodeIds[i]} -> ${city.nodeIds[j]} (row ${i}, column ${j}) must be finite and >= 0`);
      }
      if (i !== j && w > max) max = w;
    }
  }
  if (max === 0) max = 1;
  maxWeightCache.set(city.adjacency, max);
  return max;
}

export function regionSubgraph(city: City, center: number): RegionSubgraph {
  const { N, adjacency: A } = city;
  if (!Number.isInteger(center) || center < 0 || center >= N) {
    throw new DataError(`city ${city.id}: region ${center} does not exist (nodes 0..${N - 1})`);
  }
  const self = maxEdgeWeight(city);
  const nodes = [center];
  for (let j = 0; j < N; j++) {
    if (j !== center && (A[center * N + j]! > 0 || A[j * N + center]! > 0)) nodes.push(j);
  }
  const n = nodes.length;
  const adj = new Float32Array(n * n);
  for (let a = 0; a < n; a++) {
    const i = nodes[a]!;
    let rowSum = 0;
    for (let b = 0; b < n; b++) {
      const j = nodes[b]!;
      const w = a === b ? self : Math.max(A[i * N + j]!, A[j * N + i]!);
      adj[a * n + b] = w;
      rowSum += w;
    }
    for (let b = 0; b < n; b++) adj[a * n + b] = adj[a * n + b]! / rowSum;
  }
  return { center, nodes, n, adjacency: adj };
}

export function allRegionSubgraphs(city: City): RegionSubgraph[] {
  const out: RegionSubgraph[] = [];
  for (let c = 0; c < city.N; c++) out.push(regionSubgraph(city, c));
  return out;
}
