// Shared statistics for the synthetic generator tests (not a test file itself).
import type { City } from '../../src/data/city.js';
import { stepsPerDay } from '../../src/data/city.js';

/** Mean daily profile per node over weekday (weekend=false) or weekend days: [N, spd]. */
export function meanProfiles(c: City, weekend: boolean): Float64Array {
  const spd = stepsPerDay(c);
  const N = c.N;
  const sum = new Float64Array(N * spd);
  const cnt = new Float64Array(spd);
  for (let t = 0; t < c.T; t++) {
    const day = new Date(c.timestamps![t]!).getUTCDay();
    if ((day === 0 || day === 6) !== weekend) continue;
    const s = t % spd;
    cnt[s]!++;
    for (let i = 0; i < N; i++) sum[i * spd + s]! += c.series[t * N + i]!;
  }
  for (let i = 0; i < N; i++) for (let s = 0; s < spd; s++) sum[i * spd + s]! /= cnt[s]!;
  return sum;
}

/** Pooled R^2 of regressing each time-of-day bin of the profiles on the land-use mix (no intercept: the mix sums to 1). */
export function landUseR2(c: City): number {
  const spd = stepsPerDay(c);
  const N = c.N;
  const emb = c.attributes.embeddings!['landuse']!;
  const L = emb.dim;
  const prof = meanProfiles(c, false);
  let ssr = 0;
  let sst = 0;
  for (let s = 0; s < spd; s++) {
    // Normal equations [X'X | X'y], solved by Gauss-Jordan with partial pivoting.
    const A = Array.from({ length: L }, () => new Array<number>(L + 1).fill(0));
    for (let i = 0; i < N; i++) {
      for (let a = 0; a < L; a++) {
        for (let b = 0; b < L; b++) A[a]![b]! += emb.data[i * L + a]! * emb.data[i * L + b]!;
        A[a]![L]! += emb.data[i * L + a]! * prof[i * spd + s]!;
      }
    }
    for (let a = 0; a < L; a++) {
      let p = a;
      for (let r = a + 1; r < L; r++) if (Math.abs(A[r]![a]!) > Math.abs(A[p]![a]!)) p = r;
      [A[a], A[p]] = [A[p]!, A[a]!];
      for (let r = 0; r < L; r++) {
        if (r === a) continue;
        const f = A[r]![a]! / A[a]![a]!;
        for (let q = a; q <= L; q++) A[r]![q]! -= f * A[a]![q]!;
      }
    }
    const beta = A.map((row, a) => row[L]! / row[a]!);
    let my = 0;
    for (let i = 0; i < N; i++) my += prof[i * spd + s]! / N;
    for (let i = 0; i < N; i++) {
      let fit = 0;
      for (let a = 0; a < L; a++) fit += emb.data[i * L + a]! * beta[a]!;
      ssr += (prof[i * spd + s]! - fit) ** 2;
      sst += (prof[i * spd + s]! - my) ** 2;
    }
  }
  return 1 - ssr / sst;
}

/** Series minus each node's mean profile for its day type: the non-seasonal part, [T, N]. */
export function residuals(c: City): Float64Array {
  const spd = stepsPerDay(c);
  const N = c.N;
  const wd = meanProfiles(c, false);
  const we = meanProfiles(c, true);
  const r = new Float64Array(c.T * N);
  for (let t = 0; t < c.T; t++) {
    const day = new Date(c.timestamps![t]!).getUTCDay();
    const prof = day === 0 || day === 6 ? we : wd;
    for (let i = 0; i < N; i++) r[t * N + i] = c.series[t * N + i]! - prof[i * spd + (t % spd)]!;
  }
  return r;
}

export function correlation(x: Float64Array, N: number, T: number, i: number, j: number): number {
  let mi = 0;
  let mj = 0;
  for (let t = 0; t < T; t++) {
    mi += x[t * N + i]!;
    mj += x[t * N + j]!;
  }
  mi /= T;
  mj /= T;
  let sij = 0;
  let sii = 0;
  let sjj = 0;
  for (let t = 0; t < T; t++) {
    const a = x[t * N + i]! - mi;
    const b = x[t * N + j]! - mj;
    sij += a * b;
    sii += a * a;
    sjj += b * b;
  }
  return sij / Math.sqrt(sii * sjj);
}

/** Mean residual correlation over graph edges and over non-adjacent pairs. */
export function neighbourVsOtherCorrelation(c: City): { neighbours: number; others: number } {
  const r = residuals(c);
  const N = c.N;
  let sn = 0;
  let kn = 0;
  let so = 0;
  let ko = 0;
  for (let i = 0; i < N; i++) {
    for (let j = i + 1; j < N; j++) {
      const rho = correlation(r, N, c.T, i, j);
      if (c.adjacency[i * N + j]! > 0 || c.adjacency[j * N + i]! > 0) {
        sn += rho;
        kn++;
      } else {
        so += rho;
        ko++;
      }
    }
  }
  return { neighbours: sn / kn, others: so / ko };
}

/** Relative L1 difference between the city's mean weekday and weekend daily profiles. */
export function weekendDifference(c: City): number {
  const wd = meanProfiles(c, false);
  const we = meanProfiles(c, true);
  let d = 0;
  let s = 0;
  for (let k = 0; k < wd.length; k++) {
    d += Math.abs(wd[k]! - we[k]!);
    s += wd[k]!;
  }
  return d / s;
}
