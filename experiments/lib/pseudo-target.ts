/**
 * Pseudo-targets for choosing defaults on data before every test period (PROTOCOL.md): a city cut to
 * its first 70% (the part a protocol may fit and select on) is treated as a few-shot target of its
 * own, its last 30% scoring. Shared by the experiments that judge on them (finetune-guard,
 * correction-bound, bank-ceiling, sample-selection, zero-shot-scale, finetune-init): the cut, the region
 * sample, the command-line options, the family run whose bank or generator they read, the pipeline's
 * draw from that generator, the scoring of a vector on a region, and the per-city result files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { City, Forecaster } from '../../src/index.js';
import { Rng, createForecaster, loadCity, writeJsonAtomic } from '../../src/index.js';
import { loadGenerator, type Generator } from '../../src/diffusion/generator.js';
import { loadPromptSpec, regionPrompts } from '../../src/prompts/build.js';
import type { PromptSpec } from '../../src/prompts/spec.js';
import { drawSamples } from '../../src/transfer/stages.js';
import { prepareTarget, type TargetPrep } from '../../src/train/target.js';
import type { GpdConfig } from '../../src/config/schema.js';
import type { RegionWindows } from '../../src/data/windows.js';
import type { TargetRegion } from '../../src/train/target.js';
import { loadBank, type LoadedBank } from '../../src/bank/store.js';
import { predictWindows } from '../../src/train/predict.js';
import { boundForecasts, fewShotCorrectionRange } from '../../src/train/correction-bound.js';
import { maskedMetrics } from '../../src/metrics/metrics.js';
import { ALL_CITIES, ROOT, cityManifest } from './settings.js';

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

/** A city as a pseudo-target at K days, with the generator its family run trained on the partner's bank. */
export interface FamilyPseudoTarget {
  /** The family run's resolved config (sampling, fine-tuning, encoding, seed). */
  cfg: GpdConfig;
  /** The source cities its generator was trained on (the manifests' names). */
  sources: string[];
  model: Forecaster;
  city: City;
  prep: TargetPrep;
  regions: number[];
  /** Loaded on the first call; the caller disposes it. */
  generator: () => { gen: Generator; spec: PromptSpec };
}

/** `name` cut before its test period with its family run (seed 1, K = 3) under `runs`, or null when that run has no generator. */
export function familyPseudoTarget(runs: string, name: string, k: number, regionCount: number): FamilyPseudoTarget | null {
  const runDir = familyRunDir(runs, name);
  const cfg = familyRunConfig(runs, name);
  if (!cfg || !existsSync(join(runDir, 'generator', 'generator.json'))) return null;
  const city = beforeTest(loadCity(cityManifest(name)));
  return {
    cfg,
    sources: cfg.data.sources.map((s) => basename(s).replace('.city.json', '')),
    model: createForecaster(cfg.bank.model),
    city,
    prep: prepareTarget(city, k, cfg.data.feature, cfg.data.baseline, cfg.finetune.holdout),
    regions: pseudoTargetRegions(city, regionCount),
    generator: () => ({ gen: loadGenerator(join(runDir, 'generator')), spec: loadPromptSpec(join(runDir, 'prompts', 'spec.json')) }),
  };
}

/**
 * The pipeline's draw (transfer/pipeline.ts) for a pseudo-target's regions: the family run's sampling
 * settings and seed stream, prompts from the pseudo-target's K days; `sampling.samples` vectors per
 * region, grouped by region.
 */
export function drawAsPipeline(t: FamilyPseudoTarget): Float32Array[] {
  const { gen, spec } = t.generator();
  try {
    return drawSamples(gen, regionPrompts(t.city, spec, t.prep.split.fewShot), t.cfg.sampling, new Rng(t.cfg.seed).fork('generate').seed, t.regions);
  } finally {
    gen.dispose();
  }
}

/**
 * One city's rows of an experiment, kept in `file` (written atomically) so a killed run resumes and
 * cities run in separate processes are summarised by one more run over all of them: the saved rows
 * when `usable` accepts them, else `compute`'s (saved; null, a city without its run, is not).
 */
export async function cachedCityRows<T>(file: string, usable: (saved: T) => boolean, compute: () => Promise<T | null>): Promise<T | null> {
  const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
  if (saved && usable(saved)) return saved;
  const rows = await compute();
  if (rows) writeJsonAtomic(file, rows);
  return rows;
}

/**
 * Scores of parameter vectors on one pseudo-target region: the pseudo-test MAE with the correction
 * bound (fitted on the region's few-shot days) at given factors, from one forward pass, and the MAE on
 * the few-shot days themselves (training and validation windows weighted by their counts, unbounded)
 * and on the validation windows alone.
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
    /** MAE on the few-shot validation windows alone (the part any selection on a target may use). */
    val: (p: Float32Array) => mae(predict(p, dataset.val), dataset.val),
    fewShot: (p: Float32Array) => {
      const parts = [dataset.train, dataset.val].filter((w) => w.count > 0);
      return parts.reduce((a, w) => a + mae(predict(p, w), w) * w.count, 0) / parts.reduce((a, w) => a + w.count, 0);
    },
  };
}
