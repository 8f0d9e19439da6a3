/**
 * Pseudo-targets for choosing defaults on data before every test period (PROTOCOL.md): a city cut to
 * its first 70% (the part a protocol may fit and select on) is treated as a few-shot target of its
 * own, its last 30% scoring. Shared by the experiments that judge on them (finetune-guard,
 * correction-bound, bank-ceiling, sample-selection): the cut, the region sample, the command-line
 * options, the family run whose bank or generator they read, and the scoring of a vector on a region.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { City, Forecaster } from '../../src/index.js';
import { Rng } from '../../src/index.js';
import type { GpdConfig } from '../../src/config/schema.js';
import type { RegionWindows } from '../../src/data/windows.js';
import type { TargetRegion } from '../../src/train/target.js';
import { loadBank, type LoadedBank } from '../../src/bank/store.js';
import { predictWindows } from '../../src/train/predict.js';
import { boundForecasts, fewShotCorrectionRange } from '../../src/train/correction-bound.js';
import { maskedMetrics } from '../../src/metrics/metrics.js';
import { ALL_CITIES, ROOT } from './settings.js';

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

/** The parseArgs options of the experiments that read family runs: `--cities a,b --regions 24 --k 3 --runs <folder>`. */
export const PSEUDO_TARGET_OPTIONS = {
  cities: { type: 'string', default: ALL_CITIES.join(',') },
  regions: { type: 'string', default: '24' },
  k: { type: 'string', default: '3' },
  runs: { type: 'string', default: join(ROOT, 'results', '2026-12-05', 'runs') },
} as const;

/** The command line as typed (`npm run <script> -- <args>`), so a results file says how to reproduce it. */
export function commandLine(script: string, argv: readonly string[] = process.argv.slice(2)): string {
  return `$ npm run ${script}${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
}

/** The folder of a city's family run (seed 1, K = 3, main variant) under `runs`. */
export const familyRunDir = (runs: string, city: string) => join(runs, `${city}__family__k3__s1__main`);

/** The resolved config of a city's family run, or null when `runs` holds none. */
export function familyRunConfig(runs: string, city: string): GpdConfig | null {
  const file = join(familyRunDir(runs, city), 'config.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { config: GpdConfig }).config : null;
}

/** The bank a city's family run took its sources from (the other city of its family), or null. */
export function familyRunBank(runs: string, city: string): LoadedBank | null {
  const dir = familyRunConfig(runs, city)?.bank.dir;
  return dir && existsSync(dir) ? loadBank(dir) : null;
}

/**
 * Scores of parameter vectors on one pseudo-target region: the pseudo-test MAE with the correction
 * bound (fitted on the region's few-shot days) at given factors, from one forward pass, and the MAE on
 * the few-shot days themselves (training and validation windows weighted by their counts, unbounded).
 */
export function regionScorer(model: Forecaster, t: TargetRegion) {
  const { dataset } = t;
  const range = fewShotCorrectionRange(dataset);
  const predict = (p: Float32Array, w: RegionWindows) => predictWindows(model, p, dataset.adjacency, dataset.n, w, dataset.norm);
  const mae = (pred: Float32Array, w: RegionWindows) => maskedMetrics(pred, w.yRaw, w.yMask, 6).maeMean;
  const testAt = (p: Float32Array, factors: readonly number[]): number[] => {
    const pred = predict(p, t.test);
    return factors.map((f) => mae(boundForecasts(pred, t.test, dataset.norm.std, range, f), t.test));
  };
  return {
    testAt,
    /** Pseudo-test MAE with the default bound (x1). */
    test: (p: Float32Array) => testAt(p, [1])[0]!,
    fewShot: (p: Float32Array) => {
      const parts = [dataset.train, dataset.val].filter((w) => w.count > 0);
      return parts.reduce((a, w) => a + mae(predict(p, w), w) * w.count, 0) / parts.reduce((a, w) => a + w.count, 0);
    },
  };
}
