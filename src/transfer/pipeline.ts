/**
 * The whole GPD transfer pipeline in one resumable run folder:
 *
 *   source cities -> parameter bank -> prompts -> diffusion training -> generated target models
 *   -> zero-shot and fine-tuned evaluation of every method on the target's test period -> report
 *
 * Every stage writes its artefact atomically and is skipped when the artefact exists, so a killed
 * run resumes by running the same command again.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '../runtime/backend.js';
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';
import { resolveCities, resolveCity, type SyntheticDefaults } from '../data/resolve.js';
import type { GpdConfig } from '../config/schema.js';
import { buildBank } from '../bank/build.js';
import { loadBank, type LoadedBank } from '../bank/store.js';
import { trainSharedModel } from '../bank/shared-model.js';
import { fitPromptSpec, regionPrompts, loadPromptSpec, savePromptSpec, concatPrompt } from '../prompts/build.js';
import type { PromptSpec } from '../prompts/spec.js';
import { readSafetensors, writeSafetensors } from '../util/safetensors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { Rng } from '../util/prng.js';
import { throwIfAborted, type ProgressFn } from '../util/progress.js';
import { trainGenerator, selectPrompts, bankEntryPrompts, type PromptSet } from './generate.js';
import { evaluateTarget, METHOD_LABELS, type Method, type RegionPredictions } from './evaluate.js';
import type { MethodScores } from './scores.js';
import { buildReportData } from './report-data.js';
import { createForecaster } from '../models/registry.js';
import { prepareCity } from '../train/dataset.js';
import type { TrainConfig } from '../train/config.js';
import { prepareTarget } from '../train/target.js';

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
}

export interface MethodSummary {
  mae: number;
  rmse: number;
  mape: number;
  maeByHorizon: number[];
  rmseByHorizon: number[];
  regionsWon?: number;
}

export interface TransferResult {
  runDir: string;
  target: string;
  sources: string[];
  regions: number[];
  methods: Partial<Record<Method, MethodSummary>>;
  wallSeconds: number;
}

export function syntheticDefaultsOf(cfg: GpdConfig): SyntheticDefaults {
  return { seed: cfg.data.syntheticSeed, nodes: cfg.data.syntheticNodes, days: cfg.data.syntheticDays, cities: 4 };
}

export function resolveRunCities(cfg: GpdConfig): { sources: City[]; target: City } {
  const synth = syntheticDefaultsOf(cfg);
  const sources = cfg.data.sources.flatMap((r) => resolveCities(r, synth));
  const target = resolveCity(cfg.data.target, synth);
  if (sources.length === 0) throw new DataError('no source cities (data.sources is empty)');
  if (sources.some((s) => s.id === target.id)) throw new DataError(`target city ${target.id} is also listed as a source; a target must be unseen`);
  return { sources, target };
}

/** Seeded, sorted choice of target regions to score (all when the cap is absent or large). */
export function chooseTargetRegions(N: number, cap: number | undefined, seed: number): number[] {
  if (cap === undefined || cap >= N) return Array.from({ length: N }, (_, i) => i);
  return new Rng(seed).fork('target-regions').permutation(N).slice(0, cap).sort((a, b) => a - b);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : -1;
}

function meanVector(vs: Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0]!.length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i]! += v[i]!;
  for (let i = 0; i < out.length; i++) out[i]! /= vs.length;
  return out;
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

/** Refuse to resume a run folder made with a different configuration (results would silently mix). */
function checkRunConfig(runDir: string, cfg: GpdConfig): void {
  const file = join(runDir, 'config.json');
  if (!existsSync(file)) return;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { config: GpdConfig };
  if (JSON.stringify(saved.config) !== JSON.stringify(cfg)) {
    throw new DataError(`run folder ${runDir} was made with a different configuration (see its config.json); use a new --out folder or the same settings to resume`);
  }
}

async function sharedModelVector(bank: LoadedBank, sources: City[], cfg: GpdConfig, runDir: string, signal?: AbortSignal): Promise<Float32Array> {
  if (bank.shared) return bank.shared;
  const file = join(runDir, 'shared.safetensors');
  if (existsSync(file)) return readSafetensors(file).tensors['params']!.data as Float32Array;
  const model = createForecaster(cfg.bank.model);
  const res = await trainSharedModel({
    cities: sources,
    preps: sources.map((c) => prepareCity(c, cfg.data.feature, cfg.data.baseline, cfg.bank.encodingFitDays)),
    regions: sources.map((c) => Math.min(c.N, cfg.bank.maxRegions ?? c.N)),
    model,
    config: { epochs: cfg.bank.sharedEpochs, batchSize: cfg.bank.batchSize, lr: cfg.bank.lr, weightDecay: cfg.bank.weightDecay, patience: cfg.bank.patience },
    seed: cfg.bank.seed ?? cfg.seed,
    hooks: { shouldStop: () => signal?.aborted === true },
  });
  writeSafetensors(file, { params: { dtype: 'F32', shape: [res.params.length], data: res.params } }, { kind: 'shared-model' });
  return res.params;
}

interface Prompts {
  spec: PromptSpec;
  source: PromptSet;
  target: PromptSet;
}

async function buildAllPrompts(bank: LoadedBank, sources: City[], target: City, cfg: GpdConfig, runDir: string, fewShot: { start: number; end: number }): Promise<Prompts> {
  const specFile = join(runDir, 'prompts', 'spec.json');
  let spec: PromptSpec;
  if (existsSync(specFile)) spec = loadPromptSpec(specFile);
  else {
    spec = await fitPromptSpec(sources, { feature: cfg.data.feature, ...(cfg.prompts.temporal === 'mae' ? { mae: true } : {}) });
    savePromptSpec(specFile, spec);
  }
  const source = bankEntryPrompts(bank, sources, spec);
  const t = regionPrompts(target, spec, fewShot);
  return { spec, source, target: { spatial: t.spatial, temporal: t.temporal } };
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
  const runDir = resolve(o.runDir);
  mkdirSync(runDir, { recursive: true });
  checkRunConfig(runDir, cfg);
  writeJsonAtomic(join(runDir, 'config.json'), { config: cfg, seed: cfg.seed, command: o.command ?? null, versions: versions(), backend });

  const { sources, target } = resolveRunCities(cfg);
  log(`sources: ${sources.map((c) => `${c.id} (${c.N} regions)`).join(', ')}; target: ${target.id} (${target.N} regions, K = ${cfg.data.kDays} days)`);
  const prep = prepareTarget(target, cfg.data.kDays, cfg.data.feature, cfg.data.baseline);

  // 1. Parameter bank.
  const bankDir = cfg.bank.dir ? resolve(cfg.bank.dir) : join(runDir, 'bank');
  const b = cfg.bank;
  await buildBank({
    ...b,
    cities: sources,
    dir: bankDir,
    seed: b.seed ?? cfg.seed,
    feature: cfg.data.feature,
    baseline: cfg.data.baseline,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    onWarning: (m) => log(`warning: ${m}`),
  });
  throwIfAborted(o.signal, 'bank build');
  const bank = loadBank(bankDir);
  if (!bank.complete) throw new Error(`bank ${bankDir} is incomplete; rerun to finish it`);
  log(`bank: ${bank.vectors.length} region models (${b.model}, ${bank.layout.paramCount} parameters each)`);
  const model = createForecaster(b.model);
  const shared = await sharedModelVector(bank, sources, cfg, runDir, o.signal);

  // 2. Prompts.
  const prompts = await buildAllPrompts(bank, sources, target, cfg, runDir, prep.split.fewShot);

  // 3. Generator.
  throwIfAborted(o.signal, 'diffusion training');
  const { generator } = await trainGenerator({
    layout: model.layout,
    vectors: bank.vectors,
    prompts: prompts.source,
    config: cfg,
    dir: join(runDir, 'generator'),
    seed: cfg.seed,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    info: { bank: bankDir, sources: sources.map((c) => c.id), baseline: bank.settings.baseline },
    promptSpec: prompts.spec,
  });

  // 4. Generate one model per scored target region.
  const regions = chooseTargetRegions(target.N, cfg.data.maxTargetRegions, cfg.seed);
  const genFile = join(runDir, 'generated.safetensors');
  const P = model.layout.size;
  let generated: Float32Array[];
  if (existsSync(genFile)) {
    const { tensors } = readSafetensors(genFile);
    const saved = Array.from(tensors['regions']!.data as Int32Array);
    if (saved.join(',') !== regions.join(',')) throw new Error(`${genFile} holds other regions than this run scores; delete it to regenerate`);
    const data = tensors['vectors']!.data as Float32Array;
    generated = regions.map((_, i) => data.slice(i * P, (i + 1) * P));
  } else {
    const s = cfg.sampling;
    const use = selectPrompts(prompts.target, cfg.prompts.spatial, cfg.prompts.temporal !== 'none');
    const pick = (rows?: Float32Array[]) => rows && regions.map((r) => rows[r]!);
    const spatial = pick(use.spatial);
    const temporal = pick(use.temporal);
    const total = s.sampler === 'ddpm' ? cfg.diffusion.timesteps : s.steps;
    const t1 = performance.now();
    generated = generator.generate(
      { ...(spatial ? { spatial } : {}), ...(temporal ? { temporal } : {}) },
      { sampler: s.sampler, steps: s.steps, eta: s.eta, guidance: s.guidance, seed: new Rng(cfg.seed).fork('generate').seed, onStep: (i) => o.onProgress?.({ task: 'generate', done: i, total }) },
    );
    const flat = new Float32Array(generated.length * P);
    generated.forEach((v, i) => flat.set(v, i * P));
    writeSafetensors(
      genFile,
      { vectors: { dtype: 'F32', shape: [generated.length, P], data: flat }, regions: { dtype: 'I32', shape: [regions.length], data: Int32Array.from(regions) } },
      { target: target.id, sampler: s.sampler, steps: String(s.steps), ms: String(Math.round(performance.now() - t1)) },
    );
    log(`generated ${generated.length} models for ${target.id} in ${((performance.now() - t1) / 1000).toFixed(1)} s (${s.sampler}-${total})`);
  }
  const generatedOf = new Map(regions.map((r, i) => [r, generated[i]!]));
  generator.dispose();

  // 5. Evaluate every method.
  const sourceFull = prompts.source.spatial.map((sp, i) => concatPrompt(sp, prompts.source.temporal[i]!));
  const nearest = (r: number) => {
    const q = concatPrompt(prompts.target.spatial[r]!, prompts.target.temporal[r]!);
    let best = 0, bestCos = -Infinity;
    sourceFull.forEach((p, i) => {
      const c = cosine(q, p);
      if (c > bestCos) {
        bestCos = c;
        best = i;
      }
    });
    return bank.vectors[best]!;
  };
  // Every other finetune config field is a training setting; passing the rest whole means a new one
  // cannot be forgotten here (minStepsPerEpoch nearly was).
  const { shrink, prescale, ...finetune } = cfg.finetune satisfies TrainConfig & { shrink: boolean; prescale: boolean };
  const { scores, predictions } = await evaluateTarget({
    model,
    prep,
    regions,
    inits: { shared, bankMean: meanVector(bank.vectors), nearest, generated: (r) => generatedOf.get(r)! },
    finetune,
    shrink,
    prescale,
    seed: cfg.seed,
    dir: join(runDir, 'eval'),
    ...(o.methods ? { methods: o.methods } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    onWarning: (m) => log(`warning: ${m}`),
  });
  const methods = summarise(scores);
  const wallSeconds = (performance.now() - t0) / 1000;
  const result: TransferResult = { runDir, target: target.id, sources: sources.map((c) => c.id), regions, methods, wallSeconds };
  writeJsonAtomic(join(runDir, 'results.json'), {
    target: target.id,
    sources: result.sources,
    model: b.model,
    kDays: cfg.data.kDays,
    conditioning: cfg.diffusion.conditioning,
    sampler: cfg.sampling.sampler,
    samplerSteps: cfg.sampling.sampler === 'ddpm' ? cfg.diffusion.timesteps : cfg.sampling.steps,
    seed: cfg.seed,
    regionsScored: regions.length,
    regionsTotal: target.N,
    methods,
    labels: METHOD_LABELS,
  });
  const perRegion = new Map(scores.methods().map((m) => [m as Method, scores.result(m).perRegion]));
  writeRunReportData({ runDir, cfg, command: o.command ?? '', backend, target, sources, bank, generated, regions, predictions, scores: methods, perRegion, wallSeconds, prep });
  return result;
}

interface ReportInputs {
  runDir: string;
  cfg: GpdConfig;
  command: string;
  backend: string;
  target: City;
  sources: City[];
  bank: LoadedBank;
  /** Generated vectors, aligned with `regions`. */
  generated: Float32Array[];
  regions: number[];
  predictions: RegionPredictions[];
  scores: Partial<Record<Method, MethodSummary>>;
  /** Each scored method's per-region mean MAE/RMSE (from MethodScores). */
  perRegion: Map<Method, { region: number; mae: number; rmse: number }[]>;
  wallSeconds: number;
  prep: ReturnType<typeof prepareTarget>;
}

function writeRunReportData(r: ReportInputs): void {
  writeJsonAtomic(join(r.runDir, 'report-data.json'), buildReportData(r));
}

export type { ReportInputs };
