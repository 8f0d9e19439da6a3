/**
 * A trained generator on disk and in memory: everything needed to turn prompts into parameter
 * vectors of a given ParamLayout, with nothing else loaded.
 *
 * Folder format:
 *   generator.json         config: layout (hash + entries), tokenisation, denoiser config, diffusion
 *                          process (schedule + objective, or flow matching), prompt spec (dims, names),
 *                          conditioning strategy, default guidance, clipping on/off
 *   weights.safetensors    denoiser weights ("net/<name>"), normalisation stats ("norm/mean",
 *                          "norm/std") and the x0 clip range ("clip/min", "clip/max"), all F32
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../runtime/backend.js';
import { ParamLayout, type ParamSpec } from '../models/layout.js';
import { Rng } from '../util/prng.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../util/safetensors.js';
import { ArtefactError, UserError, quoteText, rethrowStorage } from '../util/errors.js';
import { checkFinite } from '../util/integrity.js';
import { TransformerDenoiser, type TransformerConfig } from './denoisers/transformer.js';
import { GaussianDiffusion } from './gaussian.js';
import { FlowMatching } from './flow.js';
import { cosineSchedule, linearSchedule, type ScheduleKind } from './schedule.js';
import { denormalize, type Normalizer } from './tokenize.js';
import type { ClipRange, Objective, Sampler } from './types.js';
import { fullPrompt, NeighbourPrior } from './prior.js';

/**
 * The generative processes by their config names. 'ddpm' is ProcessConfig's kind 'gaussian', which
 * stays as it is because saved generators (generator.json) hold it.
 */
export const GENERATIVE_PROCESSES = ['ddpm', 'flow'] as const;
export type GenerativeProcess = (typeof GENERATIVE_PROCESSES)[number];

/** Loss weighting of a Gaussian process (see ProcessConfig.weighting). */
export const WEIGHTINGS = ['snr', 'uniform'] as const;
export type Weighting = (typeof WEIGHTINGS)[number];

/** Sampler names; which ones fit which process: GenerateOptions.sampler. */
export const SAMPLERS = ['ddpm', 'ddim', 'euler', 'heun'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export type ProcessConfig =
  | {
      kind: 'gaussian';
      schedule: ScheduleKind;
      T: number;
      betaStart?: number;
      betaEnd?: number;
      objective: Objective;
      /**
       * Loss weight per step: 'snr' = the GPD release's (x0: snr, v: snr/(snr+1), noise: 1), or
       * 'uniform' = plain MSE of the objective. With 'snr' the high-noise steps, where only the
       * prompt tells the network anything, weigh ~0.006: measured on the synthetic conditional set,
       * 'x0' + 'uniform' reached a 3x better conditional error in 400 steps while 'v' + 'snr' had
       * not started to use the prompt at 300.
       */
      weighting?: Weighting;
    }
  | { kind: 'flow' };

export interface PromptSpec {
  spatial: { dim: number; names?: string[] };
  temporal: { dim: number; names?: string[] };
}

export interface GeneratorConfig {
  format: 'gpd-generator';
  version: 1;
  layout: { modelName: string; hash: string; entries: ParamSpec[] };
  denoiser: TransformerConfig;
  process: ProcessConfig;
  prompts: PromptSpec;
  /** Default classifier-free guidance scale (1 = plain conditional). */
  guidance: number;
  /** Clip predicted x0 to the bank-derived range while sampling. */
  clip: boolean;
  /** Free-form provenance (training steps, seeds, bank path...). */
  info?: Record<string, unknown>;
  /** The neighbour prior the denoiser's residuals are added to (diffusion/prior.ts); absent = none. */
  prior?: { kind: 'neighbours'; k: number };
}

export interface GenerateOptions {
  /** 'ddpm' (all T steps), 'ddim' (S steps) for Gaussian processes; 'euler' / 'heun' for flow matching. */
  sampler?: SamplerName;
  steps?: number;
  /** DDIM stochasticity (0 = deterministic). */
  eta?: number;
  guidance?: number;
  seed: number;
  /** Samples per prompt (default 1); results are grouped by prompt. */
  samples?: number;
  /** Largest batch sent through the network at once. */
  maxBatch?: number;
  onStep?: (i: number, total: number) => void;
}

/** Prompts for N regions: each present kind must have N rows of its dim. */
export interface PromptRows {
  spatial?: Float32Array[];
  temporal?: Float32Array[];
}

export function processFromConfig(p: ProcessConfig, clip: ClipRange | null): GaussianDiffusion | FlowMatching {
  if (p.kind === 'flow') return new FlowMatching({ clip });
  const schedule = p.schedule === 'cosine' ? cosineSchedule(p.T) : linearSchedule(p.T, p.betaStart, p.betaEnd);
  const g = new GaussianDiffusion(schedule, p.objective, clip);
  // GaussianDiffusion has no weighting option; its weights are a public per-step table.
  if (p.weighting === 'uniform') g.lossWeight.fill(1);
  return g;
}

export class Generator {
  readonly layout: ParamLayout;
  readonly process: GaussianDiffusion | FlowMatching;
  readonly clipRange: { min: Float32Array; max: Float32Array };

  constructor(
    readonly config: GeneratorConfig,
    readonly model: TransformerDenoiser,
    readonly normalizer: Normalizer,
    clip: { min: Float32Array; max: Float32Array },
    /** With config.prior: the rows it averages (normalised vectors and their prompts). */
    readonly prior?: NeighbourPrior,
  ) {
    this.layout = model.layout;
    this.clipRange = clip;
    this.process = processFromConfig(config.process, config.clip ? clip : null);
  }

  /** Parameter vectors in original (denormalised) units: samples x N, grouped by prompt. */
  generate(prompts: PromptRows, opts: GenerateOptions): Float32Array[] {
    const c = this.config;
    const N = countPrompts(prompts, c.prompts);
    const S = opts.samples ?? 1;
    const P = this.layout.size;
    const sampler = this.sampler(opts);
    const rng = new Rng(opts.seed);
    const rows: { prompt: number }[] = [];
    for (let i = 0; i < N; i++) for (let s = 0; s < S; s++) rows.push({ prompt: i });
    const maxBatch = opts.maxBatch ?? 64;
    const out: Float32Array[] = [];
    for (let start = 0; start < rows.length; start += maxBatch) {
      const chunk = rows.slice(start, start + maxBatch);
      const B = chunk.length;
      const gather = (src: Float32Array[] | undefined, dim: number) => {
        if (dim === 0 || !src) return null;
        const buf = new Float32Array(B * dim);
        chunk.forEach((r, k) => buf.set(src[r.prompt]!, k * dim));
        return tf.tensor2d(buf, [B, dim]);
      };
      const sp = gather(prompts.spatial, c.prompts.spatial.dim);
      const tp = gather(prompts.temporal, c.prompts.temporal.dim);
      const denoise = this.model.denoiseFn({ spatial: sp, temporal: tp }, { guidance: opts.guidance ?? c.guidance });
      const x = sampler.sample(denoise, [B, P], rng.fork(`batch:${start}`), { onStep: opts.onStep });
      const data = x.dataSync() as Float32Array;
      x.dispose();
      sp?.dispose();
      tp?.dispose();
      for (let k = 0; k < B; k++) {
        const z = data.subarray(k * P, (k + 1) * P);
        if (this.prior) {
          const r = chunk[k]!.prompt;
          const base = this.prior.predict(fullPrompt(c.prompts.spatial.dim > 0 ? prompts.spatial?.[r] : undefined, c.prompts.temporal.dim > 0 ? prompts.temporal?.[r] : undefined));
          for (let p = 0; p < P; p++) z[p] = z[p]! + base[p]!;
        }
        out.push(denormalize(this.normalizer, z));
      }
    }
    return out;
  }

  private sampler(opts: GenerateOptions): Sampler {
    const p = this.process;
    if (p instanceof FlowMatching) {
      const kind = opts.sampler ?? 'heun';
      const steps = opts.steps ?? 50;
      if (kind === 'euler') return p.eulerSampler(steps);
      if (kind === 'heun') return p.heunSampler(steps);
      throw new Error(`generator uses flow matching: sampler must be 'euler' or 'heun', got '${kind}'`);
    }
    const kind = opts.sampler ?? 'ddim';
    if (kind === 'ddpm') return p.ddpmSampler();
    if (kind === 'ddim') return p.ddimSampler(opts.steps ?? 50, opts.eta ?? 0);
    throw new Error(`generator uses Gaussian diffusion: sampler must be 'ddpm' or 'ddim', got '${kind}'`);
  }

  dispose(): void {
    this.model.dispose();
  }
}

function countPrompts(p: PromptRows, spec: PromptSpec): number {
  let n: number | null = null;
  for (const key of ['spatial', 'temporal'] as const) {
    const dim = spec[key].dim;
    const rows = p[key];
    if (dim === 0) continue;
    if (!rows) throw new Error(`generate: this generator needs ${key} prompts (dim ${dim})`);
    rows.forEach((r, i) => {
      if (r.length !== dim) throw new Error(`generate: ${key} prompt ${i} has ${r.length} values, the generator expects ${dim}`);
    });
    if (n !== null && rows.length !== n) throw new Error(`generate: ${rows.length} ${key} prompts but ${n} of the other kind`);
    n = rows.length;
  }
  if (n === null) throw new Error('generate: this generator takes no prompts; unconditional generation is not supported');
  return n;
}

const CONFIG_FILE = 'generator.json';
const WEIGHTS_FILE = 'weights.safetensors';

/** Build the config record for a trained model (the layout is taken from the model). */
export function makeGeneratorConfig(
  model: TransformerDenoiser,
  process: ProcessConfig,
  opts: { guidance?: number; clip?: boolean; promptNames?: { spatial?: string[]; temporal?: string[] }; info?: Record<string, unknown>; prior?: GeneratorConfig['prior'] } = {},
): GeneratorConfig {
  const layout = model.layout;
  return {
    format: 'gpd-generator',
    version: 1,
    layout: { modelName: layout.modelName, hash: layout.hash(), entries: layout.entries.map((e) => ({ name: e.name, shape: [...e.shape], init: e.init, role: e.role })) },
    denoiser: model.config,
    process,
    prompts: {
      spatial: { dim: model.config.spatialDim, ...(opts.promptNames?.spatial ? { names: opts.promptNames.spatial } : {}) },
      temporal: { dim: model.config.temporalDim, ...(opts.promptNames?.temporal ? { names: opts.promptNames.temporal } : {}) },
    },
    guidance: opts.guidance ?? 1,
    clip: opts.clip ?? true,
    ...(opts.prior ? { prior: opts.prior } : {}),
    ...(opts.info ? { info: opts.info } : {}),
  };
}

/** Write config + weights (the model's current weights, or `weights` if given) atomically into dir. */
export function saveGenerator(dir: string, gen: Generator, weights?: Record<string, Float32Array>): void {
  const w = weights ?? gen.model.getWeights();
  for (const [name, v] of Object.entries(w)) {
    const bad = checkFinite(v, `the trained denoiser's weight "${name}"`);
    if (bad) throw new UserError(`${bad}; diffusion training diverged and the generator is not saved: lower diffusion.lr or diffusion.gradClip and train again`);
  }
  const shapes = gen.model.paramShapes();
  const tensors: Record<string, SafeTensor> = {};
  for (const n of gen.model.names) tensors[`net/${n}`] = { dtype: 'F32', shape: shapes[n]!, data: w[n]! };
  const P = gen.layout.size;
  tensors['norm/mean'] = { dtype: 'F32', shape: [P], data: gen.normalizer.mean };
  tensors['norm/std'] = { dtype: 'F32', shape: [P], data: gen.normalizer.std };
  tensors['clip/min'] = { dtype: 'F32', shape: [P], data: gen.clipRange.min };
  tensors['clip/max'] = { dtype: 'F32', shape: [P], data: gen.clipRange.max };
  if (gen.prior) {
    const n = gen.prior.vectors.length;
    const d = gen.prior.prompts[0]!.length;
    const flat = (rows: Float32Array[], dim: number) => {
      const out = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => out.set(r, i * dim));
      return out;
    };
    tensors['prior/vectors'] = { dtype: 'F32', shape: [n, P], data: flat(gen.prior.vectors, P) };
    tensors['prior/prompts'] = { dtype: 'F32', shape: [n, d], data: flat(gen.prior.prompts, d) };
  }
  writeSafetensors(join(dir, WEIGHTS_FILE), tensors, { format: 'gpd-generator', layoutHash: gen.config.layout.hash });
  writeJsonAtomic(join(dir, CONFIG_FILE), gen.config);
}

/** How a damaged generator folder gets fixed: it is the product of a training run, not a cache. */
const retrain = (dir: string) => `delete ${dir} and rerun the command that trained it (gpd diffusion train, or the same gpd transfer) to train it again`;

export function loadGenerator(dir: string): Generator {
  const cfgPath = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(cfgPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ArtefactError(cfgPath, `${dir} is not a generator folder: ${cfgPath} does not exist`, `train one with \`gpd diffusion train -o ${dir}\``);
    }
    rethrowStorage(err, cfgPath, 'read');
  }
  let config: GeneratorConfig;
  try {
    config = JSON.parse(text) as GeneratorConfig;
  } catch (err) {
    throw new ArtefactError(cfgPath, `${cfgPath}: not valid JSON (${(err as Error).message})`, retrain(dir));
  }
  if (config?.format !== 'gpd-generator' || config.version !== 1) throw new ArtefactError(cfgPath, `${cfgPath}: not a gpd generator (format ${quoteText(config?.format)}, version ${quoteText(config?.version)})`);
  const layout = new ParamLayout(config.layout.modelName, config.layout.entries);
  if (layout.hash() !== config.layout.hash) throw new ArtefactError(cfgPath, `${cfgPath}: layout entries hash to ${layout.hash()} but the file records ${config.layout.hash}`, retrain(dir));
  const weightsPath = join(dir, WEIGHTS_FILE);
  let tensors: Record<string, SafeTensor>;
  try {
    tensors = readSafetensors(weightsPath).tensors;
    for (const [name, t] of Object.entries(tensors)) {
      const bad = t.data instanceof Float32Array ? checkFinite(t.data, `${weightsPath}, tensor "${name}"`) : null;
      if (bad) throw new ArtefactError(weightsPath, bad);
    }
  } catch (err) {
    throw err instanceof ArtefactError ? err.withFix(retrain(dir)) : err;
  }
  // The init Rng only fills values that setWeights overwrites at once.
  const model = new TransformerDenoiser(layout, config.denoiser, new Rng(1));
  const w: Record<string, Float32Array> = {};
  for (const n of model.names) {
    const t = tensors[`net/${n}`];
    if (!t) {
      model.dispose();
      throw new ArtefactError(weightsPath, `${weightsPath}: missing tensor "net/${n}" required by the denoiser config`, retrain(dir));
    }
    w[n] = t.data as Float32Array;
  }
  model.setWeights(w);
  const vec = (name: string) => {
    const t = tensors[name];
    if (!t || t.data.length !== layout.size) {
      model.dispose();
      throw new ArtefactError(weightsPath, `${weightsPath}: "${name}" missing or not ${layout.size} values`, retrain(dir));
    }
    return t.data as Float32Array;
  };
  let prior: NeighbourPrior | undefined;
  if (config.prior) {
    const v = tensors['prior/vectors'];
    const p = tensors['prior/prompts'];
    if (!v || !p || v.shape[1] !== layout.size || v.shape[0] !== p.shape[0]) {
      model.dispose();
      throw new ArtefactError(weightsPath, `${weightsPath}: the neighbour prior's "prior/vectors" and "prior/prompts" are missing or do not match`, retrain(dir));
    }
    const rows = (t: SafeTensor) => Array.from({ length: t.shape[0]! }, (_, i) => (t.data as Float32Array).subarray(i * t.shape[1]!, (i + 1) * t.shape[1]!));
    prior = new NeighbourPrior(rows(v), rows(p), config.prior.k);
  }
  return new Generator(config, model, { mean: vec('norm/mean'), std: vec('norm/std') }, { min: vec('clip/min'), max: vec('clip/max') }, prior);
}
