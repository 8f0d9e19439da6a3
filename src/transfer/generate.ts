/**
 * Training the generator on a parameter bank and generating parameter vectors for a target's
 * regions. Model selection uses held-out SOURCE regions only (the reference picks checkpoints on
 * the target's test data; we never look at the target here).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { GpdConfig } from '../config/schema.js';
import { ParamLayout } from '../models/layout.js';
import { TransformerDenoiser, type TransformerConfig } from '../diffusion/denoisers/transformer.js';
import { fitNormalizer, normalize, clipRangeFromBank } from '../diffusion/tokenize.js';
import { readLossLog, trainDenoiser, type LossRecord, type TrainingSet, type TrainResult } from '../diffusion/trainer.js';
import { fullPrompt, NeighbourPrior } from '../diffusion/prior.js';
import { Generator, makeGeneratorConfig, saveGenerator, loadGenerator, processFromConfig, type ProcessConfig } from '../diffusion/generator.js';
import { Rng } from '../util/prng.js';
import { Cancelled, type ProgressFn } from '../util/progress.js';
import { savePromptSpec, regionPrompts } from '../prompts/build.js';
import type { LoadedBank } from '../bank/store.js';
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';
import { ConfigError } from '../util/errors.js';
import { sourceSplit } from '../data/splits.js';
import type { PromptSpec } from '../prompts/spec.js';
import type { Forecaster } from '../models/types.js';
import { functionalLoss, type FunctionalSample } from './functional.js';

/** The trainer's folder (checkpoint, loss log) inside a generator folder. */
const TRAINING_DIR = 'training';

/** The generator's training curve (step, loss, held-out loss), for the report. */
export function generatorLossCurve(generatorDir: string): LossRecord[] {
  return readLossLog(join(generatorDir, TRAINING_DIR));
}

/** The prompt spec the generator was trained with, inside the generator folder. */
export const PROMPT_SPEC_FILE = 'prompt-spec.json';

export interface PromptSet {
  spatial: Float32Array[];
  temporal: Float32Array[];
}

/**
 * The prompt of every bank entry, aligned with the bank's vectors: each source city's prompts over
 * its training part (the same range the bank trained on).
 */
export function bankEntryPrompts(bank: LoadedBank, sources: City[], spec: PromptSpec): PromptSet {
  const byCity = new Map(sources.map((c) => [c.id, regionPrompts(c, spec, sourceSplit(c).train)]));
  const out: PromptSet = { spatial: [], temporal: [] };
  for (const e of bank.entries) {
    const p = byCity.get(e.city);
    if (!p) throw new DataError(`bank ${bank.dir} holds city ${e.city}, which is not among the given source cities`);
    out.spatial.push(p.spatial[e.region]!);
    out.temporal.push(p.temporal[e.region]!);
  }
  return out;
}

/** Drop a prompt kind (ablations) by giving it zero width. */
export function selectPrompts(p: PromptSet, useSpatial: boolean, useTemporal: boolean): { spatial?: Float32Array[]; temporal?: Float32Array[]; spatialDim: number; temporalDim: number } {
  return {
    ...(useSpatial ? { spatial: p.spatial } : {}),
    ...(useTemporal ? { temporal: p.temporal } : {}),
    spatialDim: useSpatial ? (p.spatial[0]?.length ?? 0) : 0,
    temporalDim: useTemporal ? (p.temporal[0]?.length ?? 0) : 0,
  };
}

export function processConfigOf(cfg: GpdConfig['diffusion']): ProcessConfig {
  return cfg.generative === 'flow' ? { kind: 'flow' } : { kind: 'gaussian', schedule: cfg.schedule, T: cfg.timesteps, objective: cfg.objective, weighting: cfg.weighting };
}

export interface TrainGeneratorOptions {
  layout: ParamLayout;
  vectors: Float32Array[];
  prompts: PromptSet;
  config: GpdConfig;
  dir: string;
  seed: number;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  info?: Record<string, unknown>;
  /** Saved beside the weights, so sampling for a new city needs only the generator folder. */
  promptSpec?: PromptSpec;
  /** Each vector's region windows, for the functional objective (diffusion.functionalWeight > 0). */
  functional?: { model: Forecaster; samples: FunctionalSample[] };
}

export interface TrainedGenerator {
  generator: Generator;
  result: TrainResult | null;
  heldOut: number[];
}

/** Train (or resume, or load when finished) the generator stored in `dir`. */
export async function trainGenerator(o: TrainGeneratorOptions): Promise<TrainedGenerator> {
  const d = o.config.diffusion;
  const n = o.vectors.length;
  if (n < 2) throw new ConfigError(`the bank holds ${n} vector(s); the generator needs at least 2 (train + held-out): raise bank.maxRegions or add a source city`);
  // Held-out source regions for model selection: a seeded share, at least one.
  const perm = new Rng(o.seed).fork('generator-holdout').permutation(n);
  const nVal = Math.max(1, Math.round(n * d.valShare));
  const heldOut = perm.slice(0, nVal).sort((a, b) => a - b);
  if (existsSync(join(o.dir, 'generator.json'))) return { generator: loadGenerator(o.dir), result: null, heldOut };

  const usePrompts = selectPrompts(o.prompts, o.config.prompts.spatial, o.config.prompts.temporal !== 'none');
  if (usePrompts.spatialDim + usePrompts.temporalDim === 0) throw new ConfigError('the generator needs at least one prompt kind (prompts.spatial or prompts.temporal)');
  const trainIdx = perm.slice(nVal);
  const norm = fitNormalizer(trainIdx.map((i) => o.vectors[i]!));
  // With the neighbour prior the denoiser learns each vector minus the mean of its nearest prompts'
  // vectors (a training row's own left out, so its residual is honest); diffusion/prior.ts.
  const full = (i: number) => fullPrompt(usePrompts.spatial?.[i], usePrompts.temporal?.[i]);
  const prior = d.prior === 'neighbours' ? new NeighbourPrior(trainIdx.map((i) => normalize(norm, o.vectors[i]!)), trainIdx.map(full), d.priorNeighbours) : undefined;
  const position = new Map(trainIdx.map((i, k) => [i, k]));
  const offset = (i: number) => prior!.predict(full(i), position.get(i) ?? -1);
  const target = (i: number) => {
    const z = normalize(norm, o.vectors[i]!);
    if (!prior) return z;
    const base = offset(i);
    return z.map((v, p) => v - base[p]!);
  };
  const unit = { mean: new Float32Array(norm.mean.length), std: new Float32Array(norm.mean.length).fill(1) };
  const clip = prior ? clipRangeFromBank(unit, trainIdx.map(target)) : clipRangeFromBank(norm, trainIdx.map((i) => o.vectors[i]!));
  const rows = (idx: number[]): TrainingSet => ({
    x0: idx.map(target),
    ...(usePrompts.spatial ? { spatial: idx.map((i) => usePrompts.spatial![i]!) } : {}),
    ...(usePrompts.temporal ? { temporal: idx.map((i) => usePrompts.temporal![i]!) } : {}),
  });
  const tcfg: TransformerConfig = {
    tokenization: d.tokenizer === 'reference' ? { kind: 'reference', channels: 64 } : { kind: 'layer-aware', tokenSize: d.tokenSize },
    width: d.width,
    depth: d.layers,
    heads: d.heads,
    mlpRatio: 2,
    spatialDim: usePrompts.spatialDim,
    temporalDim: usePrompts.temporalDim,
    strategy: d.conditioning,
    timeScale: d.generative === 'flow' ? 1000 : 1,
  };
  const model = new TransformerDenoiser(o.layout, tcfg, new Rng(o.seed).fork('denoiser-init'));
  if (d.functionalWeight > 0 && !o.functional) throw new Error('diffusion.functionalWeight > 0 needs the bank regions\' windows (functional samples)');
  const functional =
    d.functionalWeight > 0 ? functionalLoss(o.functional!.model, trainIdx.map((i) => o.functional!.samples[i]!), norm, d.functionalWeight, d.functionalWindows, prior ? trainIdx.map(offset) : undefined) : null;
  const processCfg = processConfigOf(d);
  const process = processFromConfig(processCfg, { min: clip.min, max: clip.max });
  let result: TrainResult;
  try {
    result = await trainDenoiser(model, process, rows(trainIdx), {
      steps: d.steps,
      batchSize: Math.min(d.batchSize, trainIdx.length),
      lr: d.lr,
      emaDecay: d.ema,
      gradClip: d.gradClip,
      promptDropout: d.promptDropout,
      seed: o.seed,
      validation: rows(heldOut),
      validateEvery: d.evalEvery,
      runDir: join(o.dir, TRAINING_DIR),
      resume: true,
      signal: o.signal,
      ...(functional ? { extraLoss: functional.loss } : {}),
      onProgress: (p) => o.onProgress?.({ task: 'diffusion', done: p.step, total: p.total, detail: `loss ${p.loss.toFixed(4)}${p.val !== undefined ? ` val ${p.val.toFixed(4)}` : ''}` }),
    });
  } finally {
    functional?.dispose();
  }
  if (result.interrupted) {
    model.dispose();
    throw new Cancelled('diffusion training');
  }
  model.setWeights(result.weights);
  const gconfig = makeGeneratorConfig(model, processCfg, {
    guidance: 1,
    clip: true,
    ...(prior ? { prior: { kind: 'neighbours' as const, k: d.priorNeighbours } } : {}),
    info: { ...o.info, steps: result.step, bestStep: result.bestStep, bestValue: result.bestValue, heldOutRegions: heldOut.length, trainRegions: trainIdx.length },
  });
  const generator = new Generator(gconfig, model, norm, clip, prior);
  if (o.promptSpec) savePromptSpec(join(o.dir, PROMPT_SPEC_FILE), o.promptSpec);
  saveGenerator(o.dir, generator);
  return { generator, result, heldOut };
}
