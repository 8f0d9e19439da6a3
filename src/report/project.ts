/**
 * 2-D pictures of high-dimensional things for the report: a PCA of parameter vectors (bank vs generated)
 * and a deterministic force-directed layout for cities whose nodes have no coordinates.
 */
import { Rng } from '../util/prng.js';

export interface Pca2d {
  /** Scores of the bank vectors on the first two principal components, in input order. */
  base: [number, number][];
  /** Scores of the extra vectors (e.g. generated parameters) on the same components. */
  extra: [number, number][];
  /** Share of the bank's total variance carried by each of the two components (0 when there is none). */
  explained: [number, number];
}

/**
 * PCA fitted on `vectors` only (centred by their mean); `extra` is projected with the same mean and axes.
 *
 * Parameter banks have n vectors of P numbers with n << P, so we never form the P x P covariance: the
 * top eigenvectors u of the n x n Gram matrix G = Xc Xc^T give the axes v = Xc^T u / sqrt(lambda) and the
 * bank scores sqrt(lambda) u. Cost is n^2 P / 2 multiply-adds for G plus one pass per extra vector.
 * Sign convention (so a report does not flip between runs or bank orderings): each axis's loading of
 * largest magnitude is positive.
 */
export function pca2d(vectors: Float32Array[], extra: Float32Array[] = []): Pca2d {
  const n = vectors.length;
  if (n === 0) throw new Error('pca2d: needs at least one bank vector');
  const P = vectors[0]!.length;
  for (const [i, v] of vectors.entries()) {
    if (v.length !== P) throw new Error(`pca2d: bank vector ${i} has length ${v.length}, expected ${P}`);
  }
  for (const [i, v] of extra.entries()) {
    if (v.length !== P) throw new Error(`pca2d: extra vector ${i} has length ${v.length}, expected ${P}`);
  }

  const mean = new Float64Array(P);
  for (const v of vectors) for (let j = 0; j < P; j++) mean[j]! += v[j]!;
  for (let j = 0; j < P; j++) mean[j]! /= n;
  // Centred copies in float64: the Gram entries are sums of P products and float32 loses the small components.
  const centred = vectors.map((v) => {
    const c = new Float64Array(P);
    for (let j = 0; j < P; j++) c[j] = v[j]! - mean[j]!;
    return c;
  });

  const gram = gramMatrix(centred, P);
  let trace = 0;
  for (let a = 0; a < n; a++) trace += gram[a * n + a]!;

  const eig = topEigenpairs(gram, n, 2);
  const base: [number, number][] = Array.from({ length: n }, () => [0, 0]);
  const axes: (Float64Array | null)[] = [];
  const explained: [number, number] = [0, 0];
  for (let k = 0; k < 2; k++) {
    const { value, vector } = eig[k] ?? { value: 0, vector: new Float64Array(n) };
    // Numerically-zero variance: the axis is undefined, so every score on it is 0.
    if (!(value > 1e-12 * Math.max(trace, 1e-300)) || trace <= 0) {
      axes.push(null);
      continue;
    }
    const sd = Math.sqrt(value);
    const axis = new Float64Array(P);
    for (let a = 0; a < n; a++) {
      const w = vector[a]! / sd;
      if (w === 0) continue;
      const ca = centred[a]!;
      for (let j = 0; j < P; j++) axis[j]! += w * ca[j]!;
    }
    let argmax = 0;
    for (let j = 1; j < P; j++) if (Math.abs(axis[j]!) > Math.abs(axis[argmax]!) + 1e-12) argmax = j;
    const sign = axis[argmax]! < 0 ? -1 : 1;
    if (sign < 0) for (let j = 0; j < P; j++) axis[j] = -axis[j]!;
    for (let a = 0; a < n; a++) base[a]![k] = sign * sd * vector[a]!;
    axes.push(axis);
    explained[k] = value / trace;
  }

  const projected = extra.map((v): [number, number] => {
    const out: [number, number] = [0, 0];
    for (let k = 0; k < 2; k++) {
      const axis = axes[k];
      if (!axis) continue;
      let s = 0;
      for (let j = 0; j < P; j++) s += (v[j]! - mean[j]!) * axis[j]!;
      out[k] = s;
    }
    return out;
  });
  return { base, extra: projected, explained };
}

/** Xc Xc^T, four columns per pass so each row element is loaded once per four products (~2x faster). */
function gramMatrix(rows: Float64Array[], P: number): Float64Array {
  const n = rows.length;
  const gram = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    const ca = rows[a]!;
    let b = a;
    for (; b + 3 < n; b += 4) {
      const c0 = rows[b]!, c1 = rows[b + 1]!, c2 = rows[b + 2]!, c3 = rows[b + 3]!;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < P; j++) {
        const v = ca[j]!;
        s0 += v * c0[j]!;
        s1 += v * c1[j]!;
        s2 += v * c2[j]!;
        s3 += v * c3[j]!;
      }
      gram[a * n + b] = gram[b * n + a] = s0;
      gram[a * n + b + 1] = gram[(b + 1) * n + a] = s1;
      gram[a * n + b + 2] = gram[(b + 2) * n + a] = s2;
      gram[a * n + b + 3] = gram[(b + 3) * n + a] = s3;
    }
    for (; b < n; b++) {
      const cb = rows[b]!;
      let s = 0;
      for (let j = 0; j < P; j++) s += ca[j]! * cb[j]!;
      gram[a * n + b] = gram[b * n + a] = s;
    }
  }
  return gram;
}

/**
 * Largest `k` eigenpairs of a symmetric positive semi-definite n x n matrix, by orthogonal (block power)
 * iteration with a Rayleigh-Ritz step on a slightly larger block so that close eigenvalues still converge.
 * The start block is fixed (not random) so the result is deterministic.
 */
export function topEigenpairs(m: Float64Array, n: number, k: number): { value: number; vector: Float64Array }[] {
  const b = Math.min(n, k + 4);
  let q: Float64Array[] = [];
  for (let c = 0; c < b; c++) {
    const col = new Float64Array(n);
    // Deterministic start: a smooth, full-rank family of columns.
    for (let i = 0; i < n; i++) col[i] = Math.cos(((i + 1) * (c + 1) * Math.PI) / (n + 1)) + (c === 0 ? 1 : 0) + 1e-3 * ((i * 7 + c * 13) % 11);
    q.push(col);
  }
  q = orthonormalise(q);
  let values: Float64Array = new Float64Array(b);
  let ritz: Float64Array[] = q;
  // The cap only binds for nearly flat spectra, where a 2-D picture carries little information anyway.
  for (let iter = 0; iter < 400; iter++) {
    const z = q.map((col) => matVec(m, n, col));
    // Rayleigh-Ritz on span(q): H = Q^T M Q, then rotate Z (= MQ) by H's eigenvectors.
    const h = new Float64Array(b * b);
    for (let r = 0; r < b; r++) for (let c = 0; c < b; c++) h[r * b + c] = dot(q[r]!, z[c]!);
    const { values: hv, vectors: hvec } = jacobiEigen(h, b);
    ritz = rotate(q, hvec, b, n);
    const prev = values;
    values = hv;
    let change = 0;
    for (let c = 0; c < k && c < b; c++) change = Math.max(change, Math.abs(values[c]! - prev[c]!) / Math.max(Math.abs(values[0]!), 1e-300));
    const next = orthonormalise(rotate(z, hvec, b, n));
    q = next;
    if (iter > 3 && change < 1e-12) break;
  }
  const out: { value: number; vector: Float64Array }[] = [];
  for (let c = 0; c < Math.min(k, b); c++) out.push({ value: Math.max(0, values[c]!), vector: ritz[c]! });
  return out;
}

function matVec(m: Float64Array, n: number, x: Float64Array): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const row = i * n;
    for (let j = 0; j < n; j++) s += m[row + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Columns of `cols` combined by the b x b matrix `r` (column c of the result = sum_i cols[i] * r[i, c]). */
function rotate(cols: Float64Array[], r: Float64Array, b: number, n: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let c = 0; c < b; c++) {
    const col = new Float64Array(n);
    for (let i = 0; i < b; i++) {
      const w = r[i * b + c]!;
      if (w === 0) continue;
      const src = cols[i]!;
      for (let t = 0; t < n; t++) col[t]! += w * src[t]!;
    }
    out.push(col);
  }
  return out;
}

/** Modified Gram-Schmidt; a column that collapses (rank deficiency) is replaced by a fresh unit direction. */
function orthonormalise(cols: Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  const n = cols[0]?.length ?? 0;
  for (let c = 0; c < cols.length; c++) {
    let v = Float64Array.from(cols[c]!);
    const scale = Math.sqrt(dot(v, v));
    for (let attempt = 0; attempt <= n; attempt++) {
      for (const u of out) {
        const p = dot(u, v);
        for (let i = 0; i < n; i++) v[i]! -= p * u[i]!;
      }
      const norm = Math.sqrt(dot(v, v));
      if (norm > 1e-10 * Math.max(scale, 1e-300) && norm > 0) {
        for (let i = 0; i < n; i++) v[i]! /= norm;
        break;
      }
      v = new Float64Array(n);
      v[(c + attempt) % n] = 1;
    }
    out.push(v);
  }
  return out;
}

/** Cyclic Jacobi eigen-decomposition of a small symmetric matrix; eigenvalues sorted descending. */
function jacobiEigen(input: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(input);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let r = p + 1; r < n; r++) off += a[p * n + r]! ** 2;
    if (off < 1e-300) break;
    for (let p = 0; p < n; p++) {
      for (let r = p + 1; r < n; r++) {
        const apr = a[p * n + r]!;
        if (Math.abs(apr) < 1e-300) continue;
        const theta = (a[r * n + r]! - a[p * n + p]!) / (2 * apr);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let i = 0; i < n; i++) {
          const aip = a[i * n + p]!;
          const air = a[i * n + r]!;
          a[i * n + p] = c * aip - s * air;
          a[i * n + r] = s * aip + c * air;
        }
        for (let i = 0; i < n; i++) {
          const api = a[p * n + i]!;
          const ari = a[r * n + i]!;
          a[p * n + i] = c * api - s * ari;
          a[r * n + i] = s * api + c * ari;
        }
        for (let i = 0; i < n; i++) {
          const vip = v[i * n + p]!;
          const vir = v[i * n + r]!;
          v[i * n + p] = c * vip - s * vir;
          v[i * n + r] = s * vip + c * vir;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = a[src * n + src]!;
    for (let i = 0; i < n; i++) vectors[i * n + dst] = v[i * n + src]!;
  });
  return { values, vectors };
}

/** Undirected edges (i < j) of a row-major n x n adjacency; self-loops and zero weights dropped. */
export function edgesFromAdjacency(adjacency: ArrayLike<number>, n: number): [number, number][] {
  if (adjacency.length !== n * n) throw new Error(`edgesFromAdjacency: adjacency has ${adjacency.length} entries, expected ${n}x${n}`);
  const edges: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (adjacency[i * n + j] !== 0 || adjacency[j * n + i] !== 0) edges.push([i, j]);
    }
  }
  return edges;
}

/**
 * Deterministic Fruchterman-Reingold layout of an undirected graph with nodes 0..n-1, scaled into the
 * unit square. Start positions come from `Rng(seed)`; the step budget shrinks with n^2 so big graphs stay
 * fast (the quadratic repulsion dominates). Disconnected parts are kept apart by repulsion and held in by
 * a weak pull to the centre.
 */
export function graphLayout(n: number, edges: ReadonlyArray<readonly [number, number]>, seed: number): [number, number][] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`graphLayout: n must be a non-negative integer, got ${n}`);
  for (const [a, b] of edges) {
    if (!(a >= 0 && a < n && b >= 0 && b < n)) throw new Error(`graphLayout: edge ${a}-${b} is outside 0..${n - 1}`);
  }
  if (n === 0) return [];
  if (n === 1) return [[0.5, 0.5]];
  const rng = new Rng(seed);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = rng.uniform();
    y[i] = rng.uniform();
  }
  const ideal = Math.sqrt(1 / n);
  const iterations = Math.max(30, Math.min(300, Math.ceil(3e7 / (n * n))));
  const dx = new Float64Array(n);
  const dy = new Float64Array(n);
  let temperature = 0.1;
  const cooling = Math.pow(0.005 / temperature, 1 / iterations);
  for (let it = 0; it < iterations; it++) {
    dx.fill(0);
    dy.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let ex = x[i]! - x[j]!;
        let ey = y[i]! - y[j]!;
        let d2 = ex * ex + ey * ey;
        if (d2 < 1e-12) {
          // Coincident nodes: push apart along a fixed, index-dependent direction.
          ex = 1e-3 * Math.cos(i + j);
          ey = 1e-3 * Math.sin(i + j);
          d2 = ex * ex + ey * ey;
        }
        const f = (ideal * ideal) / d2;
        dx[i]! += ex * f;
        dy[i]! += ey * f;
        dx[j]! -= ex * f;
        dy[j]! -= ey * f;
      }
    }
    for (const [a, b] of edges) {
      if (a === b) continue;
      const ex = x[a]! - x[b]!;
      const ey = y[a]! - y[b]!;
      const d = Math.sqrt(ex * ex + ey * ey) + 1e-12;
      const f = d / ideal;
      dx[a]! -= ex * f;
      dy[a]! -= ey * f;
      dx[b]! += ex * f;
      dy[b]! += ey * f;
    }
    for (let i = 0; i < n; i++) {
      dx[i]! -= 0.05 * (x[i]! - 0.5) * n * ideal;
      dy[i]! -= 0.05 * (y[i]! - 0.5) * n * ideal;
      const len = Math.sqrt(dx[i]! ** 2 + dy[i]! ** 2);
      if (len > 0) {
        const step = Math.min(len, temperature) / len;
        x[i]! += dx[i]! * step;
        y[i]! += dy[i]! * step;
      }
    }
    temperature *= cooling;
  }
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, x[i]!);
    maxX = Math.max(maxX, x[i]!);
    minY = Math.min(minY, y[i]!);
    maxY = Math.max(maxY, y[i]!);
  }
  const span = Math.max(maxX - minX, maxY - minY, 1e-12);
  return Array.from({ length: n }, (_, i): [number, number] => [(x[i]! - minX) / span, (y[i]! - minY) / span]);
}
