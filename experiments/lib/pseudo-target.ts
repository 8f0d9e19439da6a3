/**
 * Pseudo-targets for choosing defaults on data before every test period (PROTOCOL.md): a city cut to
 * its first 70% (the part a protocol may fit and select on) is treated as a few-shot target of its
 * own, its last 30% scoring. Shared by experiments/finetune-guard.ts and experiments/correction-bound.ts.
 */
import type { City } from '../../src/index.js';
import { Rng } from '../../src/index.js';

/** The city up to its test period: what a protocol may fit and select on. */
export function beforeTest(c: City): City {
  const T = Math.floor((7 * c.T) / 10);
  const cut = <A extends Float32Array | Uint8Array | Float64Array>(a: A | undefined, per: number) => a?.slice(0, T * per) as A | undefined;
  return { ...c, T, series: cut(c.series, c.N * c.F)!, ...(c.mask ? { mask: cut(c.mask, c.N * c.F)! } : {}), ...(c.timestamps ? { timestamps: cut(c.timestamps, 1)! } : {}) };
}

/** The seeded sample of regions scored on a pseudo-target, in index order (the same in every experiment). */
export function pseudoTargetRegions(city: City, count: number): number[] {
  return new Rng(1).fork('guard-regions').permutation(city.N).slice(0, count).sort((a, b) => a - b);
}
