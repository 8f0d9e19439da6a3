/**
 * Spatial prompt parts: urban knowledge a city may provide (named embeddings, categorical classes,
 * coordinates) and graph-structure features every city has.
 *
 * Everything here is made comparable ACROSS cities, because a target's prompt is matched against
 * prompts of other cities: coordinates are relative to the city's centroid and spread, weighted
 * degrees are relative to the city's mean (edge weights mean distances in one dataset and
 * similarities in another), and the graph embedding uses random-walk return probabilities of the
 * unweighted graph rather than Laplacian eigenvectors (whose signs and order are arbitrary per city).
 */
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';

/**
 * Undirected neighbour lists (a positive edge in either direction, self-loops dropped), ascending:
 * exactly the non-centre nodes of regionSubgraph (src/data/subgraph.ts), computed for all regions in one pass.
 */
export function undirectedNeighbours(city: City): Int32Array[] {
  const { N, adjacency } = city;
  const out: Int32Array[] = [];
  const buf: number[] = [];
  for (let i = 0; i < N; i++) {
    buf.length = 0;
    for (let j = 0; j < N; j++) {
      if (j !== i && (adjacency[i * N + j]! > 0 || adjacency[j * N + i]! > 0)) buf.push(j);
    }
    out.push(Int32Array.from(buf));
  }
  return out;
}

export const STRUCTURE_FEATURES = [
  'log1p_in_degree',
  'log1p_out_degree',
  'rel_weighted_in',
  'rel_weighted_out',
  'log_subgraph_size',
  'clustering',
  'rel_degree',
] as const;

/** [N, 7] graph-structure features, see STRUCTURE_FEATURES (directed counts use positive off-diagonal entries). */
export function structureFeatures(city: City, nbrs: Int32Array[] = undirectedNeighbours(city)): Float32Array {
  const { N, adjacency } = city;
  const D = STRUCTURE_FEATURES.length;
  const inDeg = new Float64Array(N);
  const outDeg = new Float64Array(N);
  const inW = new Float64Array(N);
  const outW = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      if (i === j) continue;
      const w = adjacency[i * N + j]!;
      if (!(w > 0)) continue;
      outDeg[i]++;
      inDeg[j]++;
      outW[i] += w;
      inW[j] += w;
    }
  }
  let meanW = 0;
  let meanDeg = 0;
  for (let i = 0; i < N; i++) {
    meanW += (inW[i]! + outW[i]!) / 2;
    meanDeg += nbrs[i]!.length;
  }
  meanW /= N;
  meanDeg /= N;

  // Clustering on the undirected graph: a membership bitmap per row keeps it O(sum deg^2).
  const isNbr = new Uint8Array(N);
  const out = new Float32Array(N * D);
  for (let i = 0; i < N; i++) {
    const nb = nbrs[i]!;
    const k = nb.length;
    let clustering = 0;
    if (k >= 2) {
      let links = 0;
      for (const a of nb) isNbr[a] = 1;
      for (const a of nb) for (const b of nbrs[a]!) if (b > a && isNbr[b]) links++;
      for (const a of nb) isNbr[a] = 0;
      clustering = links / ((k * (k - 1)) / 2);
    }
    const o = i * D;
    out[o] = Math.log1p(inDeg[i]!);
    out[o + 1] = Math.log1p(outDeg[i]!);
    out[o + 2] = meanW > 0 ? inW[i]! / meanW : 0;
    out[o + 3] = meanW > 0 ? outW[i]! / meanW : 0;
    out[o + 4] = Math.log(1 + k);
    out[o + 5] = clustering;
    out[o + 6] = meanDeg > 0 ? k / meanDeg : 0;
  }
  return out;
}

export const DEFAULT_WALK_STEPS = [2, 4, 8, 16];

/**
 * [N, steps.length] return probabilities of the lazy random walk (stay with prob 1/2, else move to a
 * uniform neighbour) on the unweighted undirected graph: a node's local density at growing scales.
 * Lazy, so bipartite graphs (grids, lines) have no parity zeros. Sparse propagation per node:
 * O(N * maxStep * (N + edges)).
 */
export function randomWalkFeatures(city: City, steps: readonly number[] = DEFAULT_WALK_STEPS, nbrs: Int32Array[] = undirectedNeighbours(city)): Float32Array {
  for (const s of steps) if (!Number.isInteger(s) || s < 1) throw new DataError(`random-walk steps must be positive integers, got ${steps.join(', ')}`);
  const N = city.N;
  const maxStep = Math.max(0, ...steps);
  const out = new Float32Array(N * steps.length);
  let p = new Float64Array(N);
  let q = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    p.fill(0);
    p[i] = 1;
    for (let s = 1; s <= maxStep; s++) {
      q.fill(0);
      for (let a = 0; a < N; a++) {
        const m = p[a]!;
        if (m === 0) continue;
        const nb = nbrs[a]!;
        if (nb.length === 0) {
          q[a] += m;
          continue;
        }
        q[a] += 0.5 * m;
        const share = (0.5 * m) / nb.length;
        for (const b of nb) q[b] += share;
      }
      [p, q] = [q, p];
      for (let k = 0; k < steps.length; k++) if (steps[k] === s) out[i * steps.length + k] = p[i]!;
    }
  }
  return out;
}

export const COORD_FEATURES = ['rel_x', 'rel_y', 'rel_radius'] as const;

/**
 * [N, 3] position relative to the city centroid, in units of the RMS distance to it, and that
 * distance; null when the city has no coordinates. Lat/lon is projected to local kilometres first
 * (equirectangular at the mean latitude: ample at city scale).
 */
export function coordFeatures(city: City): Float32Array | null {
  const c = city.attributes.coords;
  if (!c) return null;
  const N = city.N;
  if (c.length !== 2 * N) throw new DataError(`city ${city.id}: coords hold ${c.length} values, expected ${2 * N} (N x 2)`);
  const x = new Float64Array(N);
  const y = new Float64Array(N);
  let latSum = 0;
  for (let i = 0; i < N; i++) latSum += c[2 * i + 1]!;
  const cosLat = Math.cos(((latSum / N) * Math.PI) / 180);
  for (let i = 0; i < N; i++) {
    const cx = c[2 * i]!;
    const cy = c[2 * i + 1]!;
    if (!Number.isFinite(cx) || !Number.isFinite(cy)) throw new DataError(`city ${city.id}: node ${city.nodeIds[i] ?? i} has non-finite coordinates`);
    if (city.attributes.coordKind === 'latlon') {
      x[i] = cx * 111.32 * cosLat;
      y[i] = cy * 110.574;
    } else {
      x[i] = cx;
      y[i] = cy;
    }
  }
  let mx = 0;
  let my = 0;
  for (let i = 0; i < N; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= N;
  my /= N;
  let r2 = 0;
  for (let i = 0; i < N; i++) r2 += (x[i]! - mx) ** 2 + (y[i]! - my) ** 2;
  const scale = Math.sqrt(r2 / N);
  const out = new Float32Array(N * 3);
  if (!(scale > 0)) return out; // one location for all nodes: everyone is at the centre
  for (let i = 0; i < N; i++) {
    const dx = (x[i]! - mx) / scale;
    const dy = (y[i]! - my) / scale;
    out[3 * i] = dx;
    out[3 * i + 1] = dy;
    out[3 * i + 2] = Math.hypot(dx, dy);
  }
  return out;
}

/** The city's named embedding as [N, dim], or null when absent; a malformed one is an error naming the city. */
export function embeddingFeatures(city: City, name: string): { dim: number; data: Float32Array } | null {
  const e = city.attributes.embeddings?.[name];
  if (!e) return null;
  if (e.data.length !== e.dim * city.N) {
    throw new DataError(`city ${city.id}: embedding "${name}" holds ${e.data.length} values, expected N x dim = ${city.N} x ${e.dim}`);
  }
  for (let i = 0; i < e.data.length; i++) {
    if (!Number.isFinite(e.data[i]!)) {
      throw new DataError(`city ${city.id}: embedding "${name}" has a non-finite value at node ${city.nodeIds[Math.floor(i / e.dim)] ?? Math.floor(i / e.dim)}, dim ${i % e.dim}`);
    }
  }
  return e;
}

/**
 * [N, classes.length + 1] one-hot of a categorical attribute over a fixed class list; the last
 * slot marks a class the list does not know (a target may have classes no source had). Null when
 * the city has no such attribute.
 */
export function categoryOneHot(city: City, name: string, classes: readonly number[]): Float32Array | null {
  const cat = city.attributes.categories?.[name];
  if (!cat) return null;
  if (cat.length !== city.N) throw new DataError(`city ${city.id}: category "${name}" has ${cat.length} values, expected one per node (${city.N})`);
  const D = classes.length + 1;
  const index = new Map(classes.map((c, k) => [c, k]));
  const out = new Float32Array(city.N * D);
  for (let i = 0; i < city.N; i++) out[i * D + (index.get(cat[i]!) ?? classes.length)] = 1;
  return out;
}
