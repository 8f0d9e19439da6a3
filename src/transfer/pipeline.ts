/**
 * The whole GPD transfer pipeline in one resumable run folder (transfer/run-folder.ts):
 *
 *   source cities -> parameter bank -> prompts -> diffusion training -> generated target models
 *   -> zero-shot and fine-tuned evaluation of every method on the target's test period
 *
 * Every stage writes its artefact atomically and is skipped when the artefact exists, so a killed
 * run resumes by running the same command again. The report is built from these artefacts (report/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '../runtime/backend.js';
import type { City } from '../data/city.js';
import type { GpdConfig } from '../config/schema.js';
import { resolveRunCities } from '../config/cities.js';
import { buildBank } from '../bank/build.js';
import { loadBank, type LoadedBank } from '../bank/store.js';
import { trainSharedModel } from '../bank/shared-model.js';
import { createForecaster } from '../models/registry.js';
import { generatedStartFor, trainConfigOf } from '../train/config.js';
import { gpdRowsTag } from './eval-file.js';
import { prepareCity, type CityPrep } from '../train/dataset.js';
import { prepareTarget, type TargetPrep } from '../train/target.js';
import { regionPrompts, loadPromptSpec, savePromptSpec } from '../prompts/build.js';
import { generatedOutputScale, samplerSteps, zeroShotScaleChosen } from '../diffusion/config.js';
import { chooseZeroShotScale } from './zero-shot-scale.js';
import { writeSafetensors } from '../util/safetensors.js';
import { ArtefactError, ConfigError } from '../util/errors.js';
import { withFolderLock } from '../util/lock.js';
import { Rng } from '../util/prng.js';
import { throwIfAborted, type ProgressFn } from '../util/progress.js';
import { bankEntryPrompts } from './generate.js';
import { fitRunPromptSpec, generateVectors, readGenerated, readRunVectors, recomputeFix, trainGeneratorOnBank, writeGenerated } from './stages.js';
import { meanVector, nearestPromptInit } from './inits.js';
import { evaluateTarget, METHOD_LABELS, type Method } from './evaluate.js';
import { targetFileHasRanges, writeTargetFile } from './target-file.js';
import type { MethodScores } from './scores.js';
import { RunFolder, type MethodSummary, type RunResults } from './run-folder.js';
import type { JobEngine } from '../bank/jobs.js';

export interface TransferOptions {
  config: GpdConfig;
  runDir: string;
  /** The command line that reproduces the run (recorded in the run folder and the report). */
  command?: string;
  /** Methods to score (default: all); ablations score only the GPD rows. */
  methods?: readonly Method[];
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  log?: (message: string) => void;
  /**
   * Runs the region jobs of the bank and of the evaluation (a cluster engine, src/cluster/); default:
   * the local engine, bank.workers threads for both.
   */
  engine?: JobEngine;
}

export interface TransferResult {
  runDir: string;
  target: string;
  sources: string[];
  regions: number[];
  methods: Partial<Record<Method, MethodSummary>>;
  wallSeconds: number;
  /** The zero-shot row's output scale (chosen on the few-shot days, or sampling.outputScale). */
  zeroShotScale: number;
}

/**
 * How a run's GPD rows are made, as far as its configuration says before the target chose a zero-shot
 * scale (eval-file.ts gpdRowsTag; `few-shot` stands for the chosen number): what the experiments'
 * records compare to know a run's rows were made another way.
 */
export function plannedGpdRows(cfg: Pick<GpdConfig, 'sampling' | 'data' | 'finetune'>, kDays: number): string {
  const fixed = generatedOutputScale(cfg.sampling, cfg.data.baseline);
  const zeroShot = zeroShotScaleChosen(cfg.sampling, cfg.data.baseline) ? 'few-shot' : fixed;
  return gpdRowsTag(zeroShot, generatedStartFor(cfg.finetune.generatedStart, kDays), fixed);
}

/** Seeded, sorted choice of target regions to score (all when the cap is absent or large). */
export function chooseTargetRegions(N: number, cap: number | undefined, seed: number): number[] {
  if (cap === undefined || cap >= N) return Array.from({ length: N }, (_, i) => i);
  return new Rng(seed).fork('target-regions').permutation(N).slice(0, cap).sort((a, b) => a - b);
}

function versions(): Record<string, string> {
  const read = (p: string) => {
    try {
      return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  const root = resolve(new URL('../..', import.meta.url).pathname);
  return {
    gpd: read(join(root, 'package.json')),
    '@tensorflow/tfjs': read(join(root, 'node_modules/@tensorflow/tfjs/package.json')),
    node: process.version,
  };
}

/** The bank's shared model, or (random-init banks) one trained for the source-transfer baseline. */
async function sharedModelVector(bank: LoadedBank, sources: City[], preps: CityPrep[], cfg: GpdConfig, run: RunFolder, signal?: AbortSignal): Promise<Float32Array> {
  if (bank.shared) return bank.shared;
  const file = run.path('shared');
  if (existsSync(file)) return readRunVectors(file, 'params', bank.layout.paramCount, 'the shared model');
  const res = await trainSharedModel({
    cities: sources,
    preps,
    regions: sources.map((c) => Math.min(c.N, cfg.bank.maxRegions ?? c.N)),
    model: createForecaster(cfg.bank.model),
    config: { ...trainConfigOf(cfg.bank), epochs: cfg.bank.sharedEpochs },
    seed: cfg.bank.seed ?? cfg.seed,
    hooks: { shouldStop: () => signal?.aborted === true },
  });
  writeSafetensors(file, { params: { dtype: 'F32', shape: [res.params.length], data: res.params } }, { kind: 'shared-model' });
  return res.params;
}

/** A run's own file through its reader; a damaged one is named with the fix (the run recomputes it). */
function readRunFile<T>(file: string, read: (file: string) => T): T {
  try {
    return read(file);
  } catch (err) {
    throw err instanceof ArtefactError ? err.withFix(recomputeFix(file)) : err;
  }
}

function summarise(scores: MethodScores): Partial<Record<Method, MethodSummary>> {
  const out: Partial<Record<Method, MethodSummary>> = {};
  const methods = scores.methods() as Method[];
  for (const m of methods) {
    const r = scores.result(m).metrics;
    out[m] = { mae: r.maeMean, rmse: r.rmseMean, mape: r.mapeMean, maeByHorizon: r.mae, rmseByHorizon: r.rmse };
  }
  // Regions where fine-tuned GPD beats each other method (per-region mean MAE).
  if (methods.includes('gpd')) {
    const gpd = scores.result('gpd').perRegion;
    for (const m of methods) {
      if (m === 'gpd') continue;
      const other = scores.result(m).perRegion;
      out[m]!.regionsWon = gpd.filter((g, i) => g.mae < other[i]!.mae).length;
    }
  }
  return out;
}

export async function runTransfer(o: TransferOptions): Promise<TransferResult> {
  const t0 = performance.now();
  const cfg = o.config;
  const log = o.log ?? (() => {});
  const backend = await initBackend();
  const run = new RunFolder(o.runDir);
  // Every input is loaded and checked before the run folder is touched: a bad city or setting
  // leaves nothing behind, and the corrected command starts clean.
  const { sources, target } = resolveRunCities(cfg);
  checkRunSettings(cfg, sources);
  const prep = prepareTarget(target, cfg.data.kDays, cfg.data.feature, cfg.data.baseline, cfg.finetune.holdout);
  const sourcePreps = sources.map((c) => prepareCity(c, cfg.data.feature, cfg.data.baseline, cfg.bank.encodingFitDays));
  return withFolderLock(run.dir, 'gpd transfer', () => transferInto({ o, t0, cfg, log, backend, run, sources, target, prep, sourcePreps }));
}

/** Settings that only a later stage would trip over, checked before anything is written. */
function checkRunSettings(cfg: GpdConfig, sources: City[]): void {
  if (!cfg.prompts.spatial && cfg.prompts.temporal === 'none') {
    throw new ConfigError('prompts.spatial is false and prompts.temporal is "none": the generator needs at least one prompt kind');
  }
  const planned = sources.reduce((a, c) => a + Math.min(c.N, cfg.bank.maxRegions ?? c.N), 0);
  if (planned < 2) throw new ConfigError(`the bank would hold ${planned} region model(s); the generator needs at least 2 (one is held out): raise bank.maxRegions or add a source city`);
}

interface TransferContext {
  o: TransferOptions;
  t0: number;
  cfg: GpdConfig;
  log: (message: string) => void;
  backend: string;
  run: RunFolder;
  sources: City[];
  target: City;
  prep: TargetPrep;
  sourcePreps: CityPrep[];
}

/** The stages, in the (locked) run folder. */
async function transferInto(ctx: TransferContext): Promise<TransferResult> {
  const { o, t0, cfg, log, backend, run, sources, target, prep, sourcePreps } = ctx;
  run.checkConfig(cfg);
  run.writeConfig(cfg, { command: o.command ?? null, versions: versions(), backend });
  log(`sources: ${sources.map((c) => `${c.id} (${c.N} regions)`).join(', ')}; target: ${target.id} (${target.N} regions, K = ${cfg.data.kDays} days)`);
  // Folders without city.json: say which files were picked (data/detect.ts).
  for (const c of [...sources, target]) if (c.source?.startsWith('detected')) log(`${c.id}: ${c.source}`);

  // 1. Parameter bank.
  const bankDir = run.bankDir(cfg);
  await buildBank({
    ...cfg.bank,
    cities: sources,
    dir: bankDir,
    seed: cfg.bank.seed ?? cfg.seed,
    feature: cfg.data.feature,
    baseline: cfg.data.baseline,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    onWarning: (m) => log(`warning: ${m}`),
    ...(o.engine ? { engine: o.engine } : {}),
  });
  throwIfAborted(o.signal, 'bank build');
  const bank = loadBank(bankDir);
  if (!bank.complete) throw new ArtefactError(bankDir, `bank ${bankDir} is incomplete`, 'rerun to finish it');
  log(`bank: ${bank.vectors.length} region models (${cfg.bank.model}, ${bank.layout.paramCount} parameters each)`);
  const model = createForecaster(cfg.bank.model);
  const shared = await sharedModelVector(bank, sources, sourcePreps, cfg, run, o.signal);

  // 2. Prompts: the spec is fitted on the sources once and kept; the target's come from its K days.
  const specFile = run.path('promptSpec');
  let spec = existsSync(specFile) ? readRunFile(specFile, loadPromptSpec) : null;
  if (!spec) {
    spec = await fitRunPromptSpec(sources, cfg);
    savePromptSpec(specFile, spec);
  }
  const sourcePrompts = bankEntryPrompts(bank, sources, spec);
  const targetPrompts = regionPrompts(target, spec, prep.split.fewShot);

  // 3. Generator.
  throwIfAborted(o.signal, 'diffusion training');
  const { generator } = await trainGeneratorOnBank({ bank, sources, spec, config: cfg, dir: run.path('generator'), ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) });

  // 4. Generate one model per scored target region.
  const regions = chooseTargetRegions(target.N, cfg.data.maxTargetRegions, cfg.seed);
  const genFile = run.path('generated');
  const s = cfg.sampling;
  let generated: Float32Array[];
  if (existsSync(genFile)) generated = readGenerated(genFile, regions, model.layout.size);
  else {
    const t1 = performance.now();
    generated = generateVectors(generator, targetPrompts, s, new Rng(cfg.seed).fork('generate').seed, regions, o.onProgress);
    writeGenerated(genFile, generated, regions, { target: target.id, sampler: s.sampler, steps: String(s.steps), ms: String(Math.round(performance.now() - t1)) });
    log(`generated ${generated.length} models for ${target.id} in ${((performance.now() - t1) / 1000).toFixed(1)} s (${s.sampler}-${samplerSteps(s, cfg.diffusion.timesteps)})`);
  }
  // The generator's averages; fine-tuned GPD starts from them scaled by sampling.outputScale, the
  // zero-shot row gets them scaled by the factor this city's few-shot days choose (sampling.zeroShotScale).
  const outputScale = generatedOutputScale(s, cfg.data.baseline);
  const generatedOf = new Map(regions.map((r, i) => [r, generated[i]!]));
  generator.dispose();
  const choice = zeroShotScaleChosen(s, cfg.data.baseline) ? chooseZeroShotScale(model, prep, regions, (r) => generatedOf.get(r)!) : undefined;
  const zeroShotScale = choice?.scale ?? outputScale;
  if (choice) log(`zero-shot output scale ${zeroShotScale} (lowest few-shot MAE of ${choice.grid.join(', ')})`);

  // 5. Evaluate every method, after recording the encoding and subgraphs its models see (forecasting reads them).
  // A target.json of an older gpd lacks the regions' correction ranges: it gets them (the rest is unchanged).
  if (!run.has('target') || !targetFileHasRanges(run.path('target'))) writeTargetFile(run.path('target'), prep, regions);
  const { scores } = await evaluateTarget({
    model,
    prep,
    regions,
    inits: { shared, bankMean: meanVector(bank.vectors), nearest: nearestPromptInit(sourcePrompts, targetPrompts, bank.vectors), generated: (r) => generatedOf.get(r)! },
    finetune: cfg.finetune,
    correctionBound: cfg.data.correctionBound,
    generatedScale: outputScale,
    zeroShotScale,
    seed: cfg.seed,
    regionFile: (r) => run.evalRegion(r),
    workers: cfg.bank.workers,
    ...(o.engine ? { engine: o.engine } : {}),
    ...(o.methods ? { methods: o.methods } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    onWarning: (m) => log(`warning: ${m}`),
  });
  const methods = summarise(scores);
  const wallSeconds = (performance.now() - t0) / 1000;
  const results: RunResults = {
    target: target.id,
    sources: sources.map((c) => c.id),
    model: cfg.bank.model,
    kDays: cfg.data.kDays,
    conditioning: cfg.diffusion.conditioning,
    sampler: s.sampler,
    samplerSteps: samplerSteps(s, cfg.diffusion.timesteps),
    seed: cfg.seed,
    regionsScored: regions.length,
    regionsTotal: target.N,
    methods: methods as Record<string, MethodSummary>,
    labels: METHOD_LABELS,
    wallSeconds,
    ...(choice ? { zeroShotScale: { scale: choice.scale, grid: choice.grid, mae: choice.mae } } : {}),
  };
  run.writeResults(results);
  return { runDir: run.dir, target: target.id, sources: results.sources, regions, methods, wallSeconds, zeroShotScale };
}
