/** Small hand-made cities with known values for the prompt tests. */
import type { City } from '../../src/data/city.js';

export interface TinyCityOptions {
  id?: string;
  N: number;
  days: number;
  intervalMinutes: number;
  F?: number;
  /** Value at step t, node n, feature f given the time of day in hours. */
  value: (t: number, n: number, f: number, hour: number) => number;
  /** Undirected edges (weight 1 both ways) unless `adjacency` is given. */
  edges?: [number, number][];
  adjacency?: Float32Array;
  mask?: (t: number, n: number, f: number) => boolean;
}

export function tinyCity(o: TinyCityOptions): City {
  const F = o.F ?? 1;
  const spd = Math.round(1440 / o.intervalMinutes);
  const T = o.days * spd;
  const N = o.N;
  const series = new Float32Array(T * N * F);
  const mask = o.mask ? new Uint8Array(T * N * F) : undefined;
  for (let t = 0; t < T; t++) {
    const hour = ((t % spd) * o.intervalMinutes) / 60;
    for (let n = 0; n < N; n++) {
      for (let f = 0; f < F; f++) {
        const i = (t * N + n) * F + f;
        series[i] = o.value(t, n, f, hour);
        if (mask) mask[i] = o.mask!(t, n, f) ? 1 : 0;
        if (mask && mask[i] === 0) series[i] = 0;
      }
    }
  }
  let adjacency = o.adjacency;
  if (!adjacency) {
    adjacency = new Float32Array(N * N);
    for (const [a, b] of o.edges ?? []) {
      adjacency[a * N + b] = 1;
      adjacency[b * N + a] = 1;
    }
  }
  const city: City = {
    id: o.id ?? 'tiny',
    intervalMinutes: o.intervalMinutes,
    nodeIds: Array.from({ length: N }, (_, n) => `n${n}`),
    T,
    N,
    F,
    series,
    adjacency,
    attributes: {},
  };
  if (mask) city.mask = mask;
  return city;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    x += a[i]! ** 2;
    y += b[i]! ** 2;
  }
  return d / Math.sqrt(x * y + 1e-30);
}

export function l2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** A synthetic city's land-use vector of region n. */
export function landuse(c: City, n: number): Float32Array {
  return c.attributes.embeddings!['landuse']!.data.subarray(n * 4, n * 4 + 4);
}

/**
 * Mean land-use distance from each target region to the source region with the most similar
 * (cosine) vector, over the mean distance to a random source region: 1 = the vectors carry no
 * land-use signal, 0 = they always find a region of identical land use.
 */
export function nearestLanduseRatio(target: City, sources: City[], tgt: (Float32Array | null)[], src: (Float32Array | null)[][]): number {
  let nn = 0;
  let rnd = 0;
  let pairs = 0;
  for (let i = 0; i < target.N; i++) {
    let best = -2;
    let bestLu: Float32Array | undefined;
    sources.forEach((c, k) => {
      for (let j = 0; j < c.N; j++) {
        const sim = cosine(tgt[i]!, src[k]![j]!);
        if (sim > best) [best, bestLu] = [sim, landuse(c, j)];
        rnd += l2(landuse(target, i), landuse(c, j));
        pairs++;
      }
    });
    nn += l2(landuse(target, i), bestLu!);
  }
  return nn / target.N / (rnd / pairs);
}
