// A small hand-made city whose every value is known, for exact index tests (not a test file itself).
import type { City } from '../../src/data/city.js';

/** T steps, N nodes, F features; value(t, n, f) = 100*f + 10*n + t/10 (distinct everywhere); a path graph 0-1-2-... */
export function tinyCity(opts: { T: number; N?: number; F?: number; intervalMinutes?: number; mask?: boolean; timestamps?: Float64Array }): City {
  const N = opts.N ?? 3;
  const F = opts.F ?? 1;
  const T = opts.T;
  const series = new Float32Array(T * N * F);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) series[(t * N + n) * F + f] = 100 * f + 10 * n + t / 10;
  const adjacency = new Float32Array(N * N);
  for (let n = 0; n + 1 < N; n++) adjacency[n * N + n + 1] = 1; // directed n -> n+1 only
  return {
    id: 'tiny',
    intervalMinutes: opts.intervalMinutes ?? 120,
    nodeIds: Array.from({ length: N }, (_, i) => `n${i}`),
    T,
    N,
    F,
    series,
    ...(opts.mask ? { mask: new Uint8Array(T * N * F).fill(1) } : {}),
    ...(opts.timestamps ? { timestamps: opts.timestamps } : {}),
    adjacency,
    attributes: {},
  };
}
