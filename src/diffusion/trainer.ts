/**
 * Training loop of the diffusion denoiser: Adam, EMA of the weights, gradient clipping by global norm,
 * seeded batches, prompt dropout for classifier-free guidance, atomic checkpoints with exact resume,
 * a JSON-lines loss curve, a progress callback, and model selection / early stopping on held-out
 * SOURCE examples (never target data).
 *
 * Every step's randomness comes from `Rng(seed).fork('step:<n>')`, so a run resumed from a checkpoint
 * at step n draws exactly what the uninterrupted run drew: together with the saved weights, Adam
 * moments and EMA, a resumed run reaches the same weights bit for bit.
 */
import { appendFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tf } from '../runtime/backend.js';
import type * as tfTypes from '@tensorflow/tfjs';
import { Rng } from '../util/prng.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../util/safetensors.js';
import { ArtefactError, UserError } from '../util/errors.js';
import type { DenoiseFn, ExtraLoss } from './types.js';
import { LOSS_LOG, trimLossLog } from './loss-log.js';

export { readLossLog, type LossRecord } from './loss-log.js';
import type { ParamDict, PromptBatch, TransformerDenoiser } from './denoisers/transformer.js';

type T2 = tfTypes.Tensor2D;

/** What the trainer needs from GaussianDiffusion or FlowMatching. */
export interface DiffusionObjective {
  trainingLoss(denoise: DenoiseFn, x0: T2, rng: Rng, fixed?: object, extra?: ExtraLoss): tfTypes.Scalar;
}

/**
 * A loss on the clean vectors the denoiser implies for a batch, added to the diffusion loss (e.g. the
 * forecasting loss of those vectors on their regions' own data). `rows` are the batch's indices into
 * the training set; called inside the gradient tape.
 */
export type BatchLoss = (x0hat: T2, rows: number[], rng: Rng) => tfTypes.Scalar;

/** Normalised parameter vectors and their prompts (rows aligned). */
export interface TrainingSet {
  x0: Float32Array[];
  spatial?: Float32Array[];
  temporal?: Float32Array[];
}

export interface TrainProgress {
  step: number;
  total: number;
  loss: number;
  /** Seconds left at the current rate. */
  eta: number;
  /** Last validation value, if any. */
  val?: number;
}

export interface TrainOptions {
  steps: number;
  batchSize?: number;
  /** Adam learning rate (GPD: 8e-5 at batch 64; small synthetic runs want ~1e-3). */
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Linear warm-up steps of the learning rate. */
  warmup?: number;
  emaDecay?: number;
  /** Clip gradients to this global L2 norm (0 = off). */
  gradClip?: number;
  /** Probability of replacing the prompts by the null prompt (classifier-free guidance). */
  promptDropout?: number;
  seed: number;
  /** Held-out source examples for the default validation (diffusion loss at fixed t / noise, EMA weights). */
  validation?: TrainingSet;
  /** Custom model-selection score (lower is better), evaluated on EMA weights. Overrides the default. */
  validate?: (model: TransformerDenoiser, params: ParamDict) => number;
  validateEvery?: number;
  /** Stop after this many validations without improvement (0 = never). */
  patience?: number;
  /** Folder for checkpoint.safetensors, trainer.json and loss.jsonl; none = keep nothing on disk. */
  runDir?: string;
  checkpointEvery?: number;
  /** Continue from runDir's checkpoint if there is one. */
  resume?: boolean;
  onProgress?: (p: TrainProgress) => void;
  /** Checked every step; when aborted, a checkpoint is written and train() returns early. */
  signal?: AbortSignal;
  /** An extra loss on the implied clean vectors (the functional objective); none = plain diffusion. */
  extraLoss?: BatchLoss;
}

export interface TrainResult {
  /** Steps completed (counting steps done before a resume). */
  step: number;
  stoppedEarly: boolean;
  interrupted: boolean;
  /** Selected weights: best EMA by validation, or the final EMA without validation. */
  weights: Record<string, Float32Array>;
  bestStep: number;
  bestValue: number;
  lastLoss: number;
}

interface State {
  m: Record<string, tfTypes.Variable>;
  v: Record<string, tfTypes.Variable>;
  ema: Record<string, tfTypes.Variable>;
  best: Record<string, tfTypes.Variable>;
}

const CHECKPOINT = 'checkpoint.safetensors';

export async function trainDenoiser(model: TransformerDenoiser, objective: DiffusionObjective, data: TrainingSet, opts: TrainOptions): Promise<TrainResult> {
  const o = {
    batchSize: 64,
    lr: 8e-5,
    beta1: 0.9,
    beta2: 0.99,
    eps: 1e-8,
    warmup: 0,
    emaDecay: 0.995,
    gradClip: 1,
    promptDropout: 0.1,
    validateEvery: 100,
    patience: 0,
    checkpointEvery: 500,
    resume: false,
    ...opts,
  };
  checkData(model, data, 'training set');
  if (o.validation) checkData(model, o.validation, 'validation set');
  const N = data.x0.length;
  const P = model.layout.size;
  const names = model.names;
  const params = model.params;
  const varList = names.map((n) => params[n]!);
  const zerosLike = (n: string) => tf.variable(tf.zerosLike(params[n]!), false);
  const state: State = { m: {}, v: {}, ema: {}, best: {} };
  for (const n of names) {
    state.m[n] = zerosLike(n);
    state.v[n] = zerosLike(n);
    state.ema[n] = tf.variable(params[n]!.clone(), false);
    state.best[n] = tf.variable(params[n]!.clone(), false);
  }
  let step = 0;
  let bestValue = Infinity;
  let bestStep = 0;
  let badEvals = 0;
  let lastLoss = NaN;
  let lastVal: number | undefined;

  if (o.runDir) mkdirSync(o.runDir, { recursive: true });
  const ckptPath = o.runDir ? join(o.runDir, CHECKPOINT) : null;
  const logPath = o.runDir ? join(o.runDir, LOSS_LOG) : null;
  const meta = o.resume && ckptPath && existsSync(ckptPath) ? loadCheckpoint(ckptPath, model, state) : null;
  if (meta) {
    step = meta.step;
    bestValue = meta.bestValue;
    bestStep = meta.bestStep;
    badEvals = meta.badEvals;
    lastLoss = meta.lastLoss;
    if (logPath) trimLossLog(logPath, step);
  } else if (logPath) {
    writeFileAtomic(logPath, '');
  }

  const baseRng = new Rng(o.seed);
  const hasSpatial = model.config.spatialDim > 0;
  const hasTemporal = model.config.temporalDim > 0;
  const stack = (rows: Float32Array[], idx: number[], dim: number) => {
    const buf = new Float32Array(idx.length * dim);
    idx.forEach((i, r) => buf.set(rows[i]!, r * dim));
    return tf.tensor2d(buf, [idx.length, dim]);
  };
  const saveCheckpoint = () => {
    if (!ckptPath) return;
    writeCheckpoint(ckptPath, model, state, { step, bestValue, bestStep, badEvals, lastLoss });
  };
  const validationScore = (): number => {
    if (o.validate) return o.validate(model, state.ema);
    if (!o.validation) return NaN;
    return validationLoss(model, objective, o.validation, state.ema, o.seed);
  };

  const startTime = Date.now();
  const startStep = step;
  let stoppedEarly = false;
  let interrupted = false;
  const B = Math.min(o.batchSize, N);
  while (step < o.steps) {
    if (o.signal?.aborted) {
      interrupted = true;
      break;
    }
    const rng = baseRng.fork(`step:${step}`);
    const idx = Array.from({ length: B }, () => rng.int(N));
    const keepArr = new Float32Array(B);
    for (let i = 0; i < B; i++) keepArr[i] = rng.uniform() < o.promptDropout ? 0 : 1;
    const lossRng = rng.fork('loss');
    const lrNow = o.warmup > 0 ? o.lr * Math.min(1, (step + 1) / o.warmup) : o.lr;
    const t = step + 1; // Adam's bias-correction step
    const lossValue = tf.tidy(() => {
      const x0 = stack(data.x0, idx, P);
      const prompts: PromptBatch = {
        spatial: hasSpatial ? stack(data.spatial!, idx, model.config.spatialDim) : null,
        temporal: hasTemporal ? stack(data.temporal!, idx, model.config.temporalDim) : null,
      };
      const keep = tf.tensor2d(keepArr, [B, 1]);
      const denoise: DenoiseFn = (xt, tt) => model.forward(params, xt, tt, prompts, keep);
      const extra = o.extraLoss ? (x0hat: T2) => o.extraLoss!(x0hat, idx, rng.fork('extra')) : undefined;
      const { value, grads } = tf.variableGrads(() => objective.trainingLoss(denoise, x0, lossRng, {}, extra), varList);
      const gs = names.map((n) => grads[params[n]!.name]!);
      let scale: tfTypes.Scalar | number = 1;
      if (o.gradClip > 0) {
        const norm = tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g)))));
        scale = tf.minimum(1, tf.div(o.gradClip, tf.add(norm, 1e-6))) as tfTypes.Scalar;
      }
      // EMA warm-up (as in common EMA implementations): short runs are not dominated by the init.
      const decay = Math.min(o.emaDecay, (1 + t) / (10 + t));
      const bc1 = 1 - Math.pow(o.beta1, t);
      const bc2 = 1 - Math.pow(o.beta2, t);
      names.forEach((n, i) => {
        const g = tf.mul(gs[i]!, scale);
        const m = tf.add(tf.mul(state.m[n]!, o.beta1), tf.mul(g, 1 - o.beta1));
        const v = tf.add(tf.mul(state.v[n]!, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
        state.m[n]!.assign(m);
        state.v[n]!.assign(v);
        const upd = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), o.eps));
        params[n]!.assign(tf.sub(params[n]!, tf.mul(upd, lrNow)));
        state.ema[n]!.assign(tf.add(tf.mul(state.ema[n]!, decay), tf.mul(params[n]!, 1 - decay)));
      });
      return value.dataSync()[0]!;
    });
    step++;
    lastLoss = lossValue;
    if (!Number.isFinite(lossValue)) throw new UserError(`diffusion training diverged at step ${step}: loss ${lossValue}; lower diffusion.lr and train again`);
    let logLine: Record<string, number> = { step, loss: lossValue };
    const validateNow = (o.validate || o.validation) && (step % o.validateEvery === 0 || step === o.steps);
    if (validateNow) {
      const val = validationScore();
      lastVal = val;
      logLine = { ...logLine, val };
      if (val < bestValue) {
        bestValue = val;
        bestStep = step;
        badEvals = 0;
        tf.tidy(() => names.forEach((n) => state.best[n]!.assign(state.ema[n]!)));
      } else {
        badEvals++;
        if (o.patience > 0 && badEvals >= o.patience) stoppedEarly = true;
      }
    }
    if (logPath) appendFileSync(logPath, JSON.stringify(logLine) + '\n');
    if (o.onProgress) {
      const elapsed = (Date.now() - startTime) / 1000;
      const rate = (step - startStep) / Math.max(elapsed, 1e-9);
      o.onProgress({ step, total: o.steps, loss: lossValue, eta: (o.steps - step) / rate, val: lastVal });
    }
    if (ckptPath && step % o.checkpointEvery === 0) saveCheckpoint();
    if (stoppedEarly) break;
    // Let timers / signals fire between steps without slowing the loop much.
    if (step % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  saveCheckpoint();
  const useBest = Number.isFinite(bestValue);
  const source = useBest ? state.best : state.ema;
  const weights: Record<string, Float32Array> = {};
  for (const n of names) weights[n] = source[n]!.dataSync() as Float32Array;
  for (const s of [state.m, state.v, state.ema, state.best]) for (const n of names) s[n]!.dispose();
  return { step, stoppedEarly, interrupted, weights, bestStep: useBest ? bestStep : step, bestValue, lastLoss };
}

/**
 * Default model-selection score: the diffusion loss of the given weights on held-out examples at
 * fixed timesteps and noise (a fixed Rng), prompts always kept. Deterministic for fixed weights.
 */
export function validationLoss(model: TransformerDenoiser, objective: DiffusionObjective, set: TrainingSet, params: ParamDict, seed: number, batchSize = 64): number {
  const P = model.layout.size;
  const N = set.x0.length;
  let total = 0;
  const rng = new Rng(seed).fork('validation');
  for (let start = 0; start < N; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, N - start) }, (_, i) => start + i);
    const loss = tf.tidy(() => {
      const take = (rows: Float32Array[] | undefined, dim: number) => {
        if (!rows || dim === 0) return null;
        const buf = new Float32Array(idx.length * dim);
        idx.forEach((i, r) => buf.set(rows[i]!, r * dim));
        return tf.tensor2d(buf, [idx.length, dim]);
      };
      const x0 = take(set.x0, P)!;
      const prompts = { spatial: take(set.spatial, model.config.spatialDim), temporal: take(set.temporal, model.config.temporalDim) };
      const l = objective.trainingLoss((xt, t) => model.forward(params, xt, t, prompts), x0, rng.fork(`batch:${start}`));
      return l.dataSync()[0]!;
    });
    total += loss * idx.length;
  }
  return total / N;
}

function checkData(model: TransformerDenoiser, d: TrainingSet, what: string): void {
  const P = model.layout.size;
  if (d.x0.length === 0) throw new Error(`${what}: no examples`);
  d.x0.forEach((v, i) => {
    if (v.length !== P) throw new Error(`${what}: example ${i} has ${v.length} values, the layout needs ${P}`);
  });
  for (const [key, dim] of [
    ['spatial', model.config.spatialDim],
    ['temporal', model.config.temporalDim],
  ] as const) {
    if (dim === 0) continue;
    const rows = d[key];
    if (!rows || rows.length !== d.x0.length) throw new Error(`${what}: needs ${d.x0.length} ${key} prompts, got ${rows?.length ?? 0}`);
    rows.forEach((r, i) => {
      if (r.length !== dim) throw new Error(`${what}: ${key} prompt ${i} has ${r.length} values, the model expects ${dim}`);
    });
  }
}

interface CheckpointMeta {
  step: number;
  bestValue: number;
  bestStep: number;
  badEvals: number;
  lastLoss: number;
}

function writeCheckpoint(path: string, model: TransformerDenoiser, s: State, meta: CheckpointMeta): void {
  const tensors: Record<string, SafeTensor> = {};
  const put = (prefix: string, src: Record<string, tfTypes.Tensor>) => {
    for (const n of model.names) tensors[`${prefix}/${n}`] = { dtype: 'F32', shape: [...src[n]!.shape], data: src[n]!.dataSync() as Float32Array };
  };
  put('param', model.params);
  put('adam_m', s.m);
  put('adam_v', s.v);
  put('ema', s.ema);
  put('best', s.best);
  writeSafetensors(path, tensors, { trainer: JSON.stringify(meta), denoiser: JSON.stringify(model.config) });
}

/** Null when the file is damaged: a checkpoint is a cache, so it is removed and training starts over. */
function loadCheckpoint(path: string, model: TransformerDenoiser, s: State): CheckpointMeta | null {
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(path);
  } catch (err) {
    if (!(err instanceof ArtefactError)) throw err;
    rmSync(path, { force: true });
    return null;
  }
  const { tensors, metadata } = file;
  if (metadata.denoiser !== JSON.stringify(model.config)) {
    throw new ArtefactError(path, `checkpoint ${path} was written for a different denoiser config`, `delete ${dirname(path)} (or use another output folder) to train from the start`);
  }
  const get = (prefix: string, n: string) => {
    const t = tensors[`${prefix}/${n}`];
    if (!t) throw new Error(`checkpoint ${path}: missing tensor "${prefix}/${n}"`);
    return tf.tensor(t.data as Float32Array, t.shape);
  };
  tf.tidy(() => {
    for (const n of model.names) {
      model.params[n]!.assign(get('param', n));
      s.m[n]!.assign(get('adam_m', n));
      s.v[n]!.assign(get('adam_v', n));
      s.ema[n]!.assign(get('ema', n));
      s.best[n]!.assign(get('best', n));
    }
  });
  const meta = JSON.parse(metadata.trainer ?? 'null') as CheckpointMeta | null;
  if (!meta) throw new Error(`checkpoint ${path}: missing trainer metadata`);
  if (meta.bestValue === null) meta.bestValue = Infinity; // JSON turns Infinity into null
  return meta;
}
