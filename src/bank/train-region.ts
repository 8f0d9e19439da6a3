/**
 * Training one forecaster on one or more region datasets: the unit of work of the parameter bank.
 *
 * Facts from the reference pretraining (GPD release, Pretrain/): each region trains on its own
 * subgraph; the loss is the MSE of the centre node's 6-step forecast in ORIGINAL units (predictions
 * and targets denormalised with the training mean/std); Adam with lr 1e-4 and weight decay 1e-2
 * (PyTorch Adam: L2 term added to the gradient); batches of 64, shuffled, last partial batch dropped;
 * the parameters with the best validation loss are kept. We add masking (missing targets are left
 * out of loss and metrics) and a configurable patience.
 *
 * The trainable state is ONE tf.Variable holding the flat parameter vector (what Forecaster.forward
 * takes); Adam runs on that vector directly (a handful of ops per step, independent of layer count).
 */
import { tf } from '../runtime/backend.js';
import type { City } from '../data/city.js';
import { fitValueEncoding } from '../data/baseline.js';
import { sourceSplit, type SourceSplit } from '../data/splits.js';
import { encodingBlocks, type EncodingBlock } from '../data/fit-blocks.js';
import { regionSubgraph } from '../data/subgraph.js';
import { regionWindows, type RegionWindows } from '../data/windows.js';
import { MetricsAccumulator } from '../metrics/metrics.js';
import type { Forecaster } from '../models/types.js';
import { createStgcn } from '../models/stgcn.js';
import { createGwn } from '../models/gwn.js';
import { Rng } from '../util/prng.js';
import { Cancelled } from '../util/progress.js';
import { fitHistoricalAverage, historicalAverageForecast, type HistoricalAverage } from '../transfer/historical-average.js';
import type { Normalizer, BaselineKind } from '../data/encoding.js';
import type { StepRange } from '../data/range.js';
import { IN_FEATURES, IN_STEPS, OUT_STEPS } from '../data/task.js';

export type ModelName = 'stgcn' | 'gwn';
export type InitKind = 'random' | 'warm';
/** 'original': MSE in the data's units as the reference does (weight decay then acts relative to that scale). */
export type LossSpace = 'original' | 'normalized';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  /** Stop after this many validations without improvement. */
  patience: number;
  /** Validate every this many epochs (the reference: 5; default 1). */
  evalEvery?: number;
  lossSpace?: LossSpace;
  /**
   * An epoch is at least this many steps (repeated reshuffled passes over the data). A few-shot target
   * of 3 hourly days has ~40 training windows: one step per epoch, so an epoch budget that suits
   * 5-minute data would leave hourly cities with a handful of updates. Default 1 (plain epochs).
   */
  minStepsPerEpoch?: number;
}

/** Reference values (Pretrain/config.yaml, NetSet.py) where it has them; epochs = its CLI default. */
export const DEFAULT_TRAIN_CONFIG: Required<TrainConfig> = {
  epochs: 30,
  batchSize: 64,
  lr: 1e-4,
  weightDecay: 1e-2,
  patience: 10,
  evalEvery: 1,
  lossSpace: 'original',
  minStepsPerEpoch: 1,
};

/** Defaults filled in and every field checked (messages name the option). */
export function validateTrainConfig(config: TrainConfig): Required<TrainConfig> {
  const cfg = { ...DEFAULT_TRAIN_CONFIG, ...config };
  const int = (k: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`training: ${k} must be an integer >= ${min}, got ${v}`);
  };
  int('epochs', cfg.epochs, 0);
  int('batchSize', cfg.batchSize, 1);
  int('patience', cfg.patience, 1);
  int('evalEvery', cfg.evalEvery, 1);
  int('minStepsPerEpoch', cfg.minStepsPerEpoch, 1);
  if (!(cfg.lr > 0) || !Number.isFinite(cfg.lr)) throw new Error(`training: lr must be a positive number, got ${cfg.lr}`);
  if (!(cfg.weightDecay >= 0) || !Number.isFinite(cfg.weightDecay)) throw new Error(`training: weightDecay must be >= 0, got ${cfg.weightDecay}`);
  if (cfg.lossSpace !== 'original' && cfg.lossSpace !== 'normalized') throw new Error(`training: lossSpace must be original or normalized, got ${String(cfg.lossSpace)}`);
  return cfg;
}

export function createForecaster(name: ModelName): Forecaster {
  if (name === 'stgcn') return createStgcn();
  if (name === 'gwn') return createGwn();
  throw new Error(`unknown model "${String(name)}" (expected stgcn or gwn)`);
}

/** One region's windows on its subgraph, normalised with its city's training normaliser. */
export interface RegionDataset {
  train: RegionWindows;
  val: RegionWindows;
  /** [n, n] row-normalised with self-loops. */
  adjacency: Float32Array;
  n: number;
  norm: Normalizer;
}

export interface Metric2 {
  mae: number;
  rmse: number;
}

/** Per-city state shared by all of its regions (computed once per city per process). */
export interface CityPrep {
  split: SourceSplit;
  /** The encoding fitted on the whole training part. */
  norm: Normalizer;
  ha: HistoricalAverage;
  /** With encodingFitDays: encodings fitted on sliding K-day blocks, each forecasting its next day (data/fit-blocks.ts). */
  blocks?: EncodingBlock[];
}

/**
 * `baseline`: the value encoding the city's models see (data/baseline.ts), fitted on the training part,
 * or with `encodingFitDays` on sliding blocks of that many days (the target's regime).
 */
export function prepareCity(city: City, feature = 0, baseline: BaselineKind = 'none', encodingFitDays?: number): CityPrep {
  const split = sourceSplit(city);
  const prep: CityPrep = { split, norm: fitValueEncoding(city, split.train, feature, baseline), ha: fitHistoricalAverage(city, split.train, feature) };
  if (encodingFitDays !== undefined) prep.blocks = encodingBlocks(city, split, feature, baseline, encodingFitDays);
  return prep;
}

export function regionDataset(city: City, prep: CityPrep, region: number, stride = 1): RegionDataset {
  const sub = regionSubgraph(city, region);
  return {
    train: regionWindows(city, sub, prep.split.train, prep.norm, { stride }),
    val: regionWindows(city, sub, prep.split.val, prep.norm, { stride }),
    adjacency: sub.adjacency,
    n: sub.n,
    norm: prep.norm,
  };
}

/** No windows (a block whose forecast day lies wholly on one side of the split). */
function emptyWindows(n: number): RegionWindows {
  return { count: 0, n, x: new Float32Array(0), y: new Float32Array(0), yOffset: new Float32Array(0), yMask: new Uint8Array(0), yRaw: new Float32Array(0), starts: new Int32Array(0) };
}

/**
 * A region's training data: one dataset over the whole split, or with blocks one per block (each
 * with its own encoding); fitForecaster pools them.
 */
export function regionDatasets(city: City, prep: CityPrep, region: number, stride = 1): RegionDataset[] {
  if (!prep.blocks) return [regionDataset(city, prep, region, stride)];
  const sub = regionSubgraph(city, region);
  const windows = (r: StepRange | undefined, b: EncodingBlock) =>
    r ? regionWindows(city, sub, r, b.norm, { stride, historyStart: Math.max(b.fit.start, r.start - IN_STEPS) }) : emptyWindows(sub.n);
  return prep.blocks.map((b) => ({ train: windows(b.train, b), val: windows(b.val, b), adjacency: sub.adjacency, n: sub.n, norm: b.norm }));
}

/** MAE/RMSE in original units pooled over the train or val windows of several datasets (one graph each). */
export function pooledMetrics(model: Forecaster, params: Float32Array, datasets: RegionDataset[], part: 'train' | 'val'): Metric2 {
  const acc = new MetricsAccumulator(OUT_STEPS);
  const p = tf.tensor1d(params);
  try {
    for (const d of datasets) {
      const w = d[part];
      if (w.count === 0) continue;
      const adj = tf.tensor2d(d.adjacency, [d.n, d.n]);
      const z = predictCentreNormalized(model, p, w, adj);
      adj.dispose();
      for (let i = 0; i < z.length; i++) z[i] = z[i]! * d.norm.std + w.yOffset[i]!;
      acc.add(z, w.yRaw, w.yMask);
    }
  } finally {
    p.dispose();
  }
  const r = acc.result();
  return { mae: r.maeMean, rmse: r.rmseMean };
}

export interface FitResult {
  params: Float32Array;
  /** Epochs actually run (early stopping may end sooner). */
  epochsRun: number;
  /** Epoch after which the kept parameters were taken (0 = the initial parameters). */
  bestEpoch: number;
  bestValLoss: number;
  /**
   * False when the validation windows hold no observed target (e.g. a few-shot val part whose readings
   * are all missing): nothing could be selected, so training ran its whole budget and `params` are the
   * last epoch's. Callers say so (a bank records NaN val metrics; evaluation warns per region).
   */
  validated: boolean;
  steps: number;
  trainMs: number;
}

export interface FitHooks {
  /** Checked before every step; returning true abandons the fit with Cancelled. */
  shouldStop?: () => boolean;
  /** Yield to the event loop between steps (lets Ctrl-C handlers run when training in the main thread). */
  yieldEveryStep?: boolean;
  onEpoch?: (epoch: number, epochs: number, valLoss: number) => void;
  /**
   * After every step, with the step's position in its epoch: one epoch of a shared model over hundreds of
   * regions is thousands of steps (minutes), too long to go without a progress report.
   */
  onStep?: (stepInEpoch: number, stepsInEpoch: number, epoch: number) => void;
  /** Every validation loss, the initial parameters' first. */
  onValidate?: (loss: number) => void;
}

/** A variable from a temporary tensor (the variable shares its data; the temporary would otherwise leak). */
function variableFrom(t: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

export interface AdamOptions {
  lr: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/**
 * Adam on one flat parameter vector with PyTorch's semantics (torch.optim.Adam): weight decay is an
 * L2 term added to the gradient (not AdamW), bias-corrected moments, eps added to sqrt(v_hat).
 * A few elementwise ops per step whatever the model's layer count.
 */
export class FlatAdam {
  private readonly m: tf.Variable;
  private readonly v: tf.Variable;
  private t = 0;
  private readonly lr: number;
  private readonly wd: number;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;

  constructor(size: number, opts: AdamOptions) {
    this.lr = opts.lr;
    this.wd = opts.weightDecay ?? 0;
    this.b1 = opts.beta1 ?? 0.9;
    this.b2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.m = variableFrom(tf.zeros([size]), false);
    this.v = variableFrom(tf.zeros([size]), false);
  }

  /** One update of `params` in place from `grad` (call inside tf.tidy or dispose `grad` yourself). */
  step(params: tf.Variable, grad: tf.Tensor): void {
    this.t++;
    const { b1, b2 } = this;
    tf.tidy(() => {
      const g = this.wd !== 0 ? tf.add(grad, tf.mul(params, this.wd)) : grad;
      this.m.assign(tf.add(tf.mul(this.m, b1), tf.mul(g, 1 - b1)));
      this.v.assign(tf.add(tf.mul(this.v, b2), tf.mul(tf.square(g), 1 - b2)));
      const bc1 = 1 - Math.pow(b1, this.t);
      const bc2 = 1 - Math.pow(b2, this.t);
      const denom = tf.add(tf.div(tf.sqrt(this.v), Math.sqrt(bc2)), this.eps);
      params.assign(tf.sub(params, tf.mul(tf.div(this.m, denom), this.lr / bc1)));
    });
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }
}

interface Batch {
  ds: number;
  idx: number[];
}

/** Shuffled mini-batches over every dataset's training windows (drop-last, as the reference). */
function planEpoch(datasets: RegionDataset[], batchSize: number, rng: Rng): Batch[] {
  const batches: Batch[] = [];
  datasets.forEach((d, ds) => {
    const count = d.train.count;
    if (count === 0) return;
    const order = rng.permutation(count);
    // A dataset smaller than one batch still trains, on one short batch.
    const full = Math.max(1, Math.floor(count / batchSize));
    for (let b = 0; b < full; b++) batches.push({ ds, idx: order.slice(b * batchSize, Math.min(count, (b + 1) * batchSize)) });
  });
  return rng.shuffle(batches);
}

function gatherWindows(w: RegionWindows, idx: number[], n: number): { x: Float32Array; y: Float32Array; m: Float32Array; observed: number } {
  const per = n * IN_STEPS * IN_FEATURES;
  const x = new Float32Array(idx.length * per);
  const y = new Float32Array(idx.length * OUT_STEPS);
  const m = new Float32Array(idx.length * OUT_STEPS);
  let observed = 0;
  idx.forEach((i, b) => {
    x.set(w.x.subarray(i * per, (i + 1) * per), b * per);
    for (let h = 0; h < OUT_STEPS; h++) {
      const k = i * OUT_STEPS + h;
      y[b * OUT_STEPS + h] = w.y[k]!;
      const o = w.yMask[k]!;
      m[b * OUT_STEPS + h] = o;
      observed += o;
    }
  });
  return { x, y, m, observed };
}

/** Centre-node forecasts [count, 6] in NORMALISED units, in eval mode, batched to bound memory. */
export function predictCentreNormalized(
  model: Forecaster,
  params: tf.Tensor1D,
  w: RegionWindows,
  adjacency: tf.Tensor2D,
  evalBatch = 512,
): Float32Array {
  const out = new Float32Array(w.count * OUT_STEPS);
  const per = w.n * IN_STEPS * IN_FEATURES;
  for (let s = 0; s < w.count; s += evalBatch) {
    const B = Math.min(evalBatch, w.count - s);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(w.x.subarray(s * per, (s + B) * per), [B, w.n, IN_STEPS, IN_FEATURES]);
      const y = model.forward(params, x, adjacency, { training: false });
      return tf.slice(y, [0, 0, 0], [B, 1, OUT_STEPS]);
    });
    out.set(pred.dataSync() as Float32Array, s * OUT_STEPS);
    pred.dispose();
  }
  return out;
}

/** MAE/RMSE (original units) and masked MSE in the given loss space, of a parameter vector on windows. */
export function evaluateWindows(
  model: Forecaster,
  params: tf.Tensor1D,
  w: RegionWindows,
  adjacency: tf.Tensor2D,
  norm: Normalizer,
): { metrics: Metric2; sse: number; observed: number; sseNormalized: number } {
  const z = predictCentreNormalized(model, params, w, adjacency);
  const pred = new Float32Array(z.length);
  let sse = 0;
  let sseN = 0;
  let observed = 0;
  for (let i = 0; i < z.length; i++) {
    pred[i] = z[i]! * norm.std + w.yOffset[i]!;
    if (w.yMask[i] === 0) continue;
    const e = pred[i]! - w.yRaw[i]!;
    const en = z[i]! - w.y[i]!;
    sse += e * e;
    sseN += en * en;
    observed++;
  }
  const acc = new MetricsAccumulator(OUT_STEPS);
  acc.add(pred, w.yRaw, w.yMask);
  const r = acc.result();
  return { metrics: { mae: r.maeMean, rmse: r.rmseMean }, sse, observed, sseNormalized: sseN };
}

/**
 * Train `init` on the datasets (one for a region, many for the shared model) with mini-batch Adam;
 * returns the parameters with the lowest validation loss (pooled over datasets), the initial ones
 * included. Without any observed validation target it runs the whole budget, keeps the last epoch and
 * returns `validated: false`. Deterministic given `rng` (shuffling only) and the backend.
 */
export async function fitForecaster(
  model: Forecaster,
  datasets: RegionDataset[],
  init: Float32Array,
  config: TrainConfig,
  rng: Rng,
  hooks: FitHooks = {},
): Promise<FitResult> {
  const cfg = validateTrainConfig(config);
  if (init.length !== model.layout.size) throw new Error(`${model.name}: initial vector has ${init.length} values, the layout needs ${model.layout.size}`);
  const t0 = performance.now();
  const shuffleRng = rng.fork('shuffle');
  const params = variableFrom(tf.tensor1d(init), true);
  const adam = new FlatAdam(init.length, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const adjs = datasets.map((d) => tf.tensor2d(d.adjacency, [d.n, d.n]));
  let step = 0;

  // Observed validation targets do not depend on the parameters: count them once. With none, there is
  // nothing to select on, and the loop below says so (validated = false) instead of comparing NaNs.
  const observedVal = datasets.reduce((a, d) => a + d.val.yMask.reduce((b, m) => b + (m ? 1 : 0), 0), 0);
  const validated = observedVal > 0;
  const validate = (): number => {
    if (!validated) return NaN;
    let sse = 0;
    datasets.forEach((d, i) => {
      const r = evaluateWindows(model, params as unknown as tf.Tensor1D, d.val, adjs[i]!, d.norm);
      sse += cfg.lossSpace === 'original' ? r.sse : r.sseNormalized;
    });
    return sse / observedVal;
  };
  // A NaN loss with observed targets means non-finite predictions (a broken init, or divergence):
  // never better than a finite one.
  const comparable = (loss: number) => (Number.isNaN(loss) ? Infinity : loss);

  try {
    let best = init.slice();
    let bestLoss = validate();
    hooks.onValidate?.(bestLoss);
    bestLoss = comparable(bestLoss);
    let bestEpoch = 0;
    let bad = 0;
    let epoch = 0;
    while (epoch < cfg.epochs) {
      epoch++;
      const plan = planEpoch(datasets, cfg.batchSize, shuffleRng);
      while (plan.length > 0 && plan.length < cfg.minStepsPerEpoch) plan.push(...planEpoch(datasets, cfg.batchSize, shuffleRng));
      for (const [bi, batch] of plan.entries()) {
        if (hooks.shouldStop?.()) throw new Cancelled('training');
        if (hooks.yieldEveryStep) await new Promise((r) => setImmediate(r));
        const d = datasets[batch.ds]!;
        const g = gatherWindows(d.train, batch.idx, d.n);
        if (g.observed === 0) continue;
        const B = batch.idx.length;
        const scale = (cfg.lossSpace === 'original' ? d.norm.std * d.norm.std : 1) / g.observed;
        const adj = adjs[batch.ds]!;
        step++;
        tf.tidy(() => {
          const x = tf.tensor4d(g.x, [B, d.n, IN_STEPS, IN_FEATURES]);
          const y = tf.tensor2d(g.y, [B, OUT_STEPS]);
          const mask = tf.tensor2d(g.m, [B, OUT_STEPS]);
          const { grads } = tf.variableGrads(() => {
            const pred = model.forward(params as unknown as tf.Tensor1D, x, adj, { training: true });
            const centre = tf.reshape(tf.slice(pred, [0, 0, 0], [B, 1, OUT_STEPS]), [B, OUT_STEPS]);
            const err = tf.mul(tf.sub(centre, y), mask);
            return tf.mul(tf.sum(tf.square(err)), scale) as tf.Scalar;
          }, [params]);
          adam.step(params, grads[params.name]!);
        });
        hooks.onStep?.(bi + 1, plan.length, epoch);
      }
      if (epoch % cfg.evalEvery === 0 || epoch === cfg.epochs) {
        const loss = validate();
        hooks.onValidate?.(loss);
        hooks.onEpoch?.(epoch, cfg.epochs, loss);
        if (!validated) {
          // Nothing to select on: keep the latest parameters and run the whole budget.
          bestEpoch = epoch;
          best = (params.dataSync() as Float32Array).slice();
        } else if (comparable(loss) < bestLoss) {
          bestLoss = comparable(loss);
          bestEpoch = epoch;
          best = (params.dataSync() as Float32Array).slice();
          bad = 0;
        } else if (++bad >= cfg.patience) {
          break;
        }
      } else {
        hooks.onEpoch?.(epoch, cfg.epochs, NaN);
      }
    }
    return { params: best, epochsRun: epoch, bestEpoch, bestValLoss: Number.isFinite(bestLoss) ? bestLoss : NaN, validated, steps: step, trainMs: performance.now() - t0 };
  } finally {
    params.dispose();
    adam.dispose();
    for (const a of adjs) a.dispose();
  }
}

/** Everything a region job needs besides the region index. */
export interface RegionJobContext {
  city: City;
  prep: CityPrep;
  model: Forecaster;
  config: TrainConfig;
  /** Root seed of the bank; each region forks `${city}:${region}` from it. */
  seed: number;
  init: InitKind;
  /** The shared model's vector (warm init). */
  shared?: Float32Array;
}

export interface RegionResult {
  city: string;
  region: number;
  regionId: string;
  /** Subgraph size. */
  n: number;
  /** Seed of the region's own stream (Rng(seed).fork(`${city}:${region}`)). */
  regionSeed: number;
  params: Float32Array;
  epochsRun: number;
  bestEpoch: number;
  steps: number;
  /** False when the validation part held no observed target: the whole budget ran and the last epoch was kept. */
  validated: boolean;
  train: Metric2;
  val: Metric2;
  /** Historical average on the same validation windows. */
  haVal: Metric2;
  /** Validation loss of the initial parameters, then after each validated epoch. */
  valCurve: number[];
  trainMs: number;
  totalMs: number;
}

/** Train one region of one city (same result whichever process or order runs it). */
export async function trainRegionJob(ctx: RegionJobContext, region: number, hooks: FitHooks = {}): Promise<RegionResult> {
  const t0 = performance.now();
  const { city, prep, model } = ctx;
  if (!Number.isInteger(region) || region < 0 || region >= city.N) throw new Error(`city ${city.id}: region ${region} does not exist (N = ${city.N})`);
  const rng = new Rng(ctx.seed).fork(`${city.id}:${region}`);
  const datasets = regionDatasets(city, prep, region);
  let init: Float32Array;
  if (ctx.init === 'warm') {
    if (!ctx.shared) throw new Error('warm init needs the shared model vector');
    init = ctx.shared.slice();
  } else {
    init = model.layout.init(rng.fork('init'));
  }
  const valCurve: number[] = [];
  const fit = await fitForecaster(model, datasets, init, ctx.config, rng, {
    ...hooks,
    onValidate: (loss) => valCurve.push(loss),
  });

  const train = pooledMetrics(model, fit.params, datasets, 'train');
  const val = pooledMetrics(model, fit.params, datasets, 'val');
  const acc = new MetricsAccumulator(OUT_STEPS);
  for (const d of datasets) acc.add(historicalAverageForecast(prep.ha, city, region, d.val.starts), d.val.yRaw, d.val.yMask);
  const ha = acc.result();
  return {
    city: city.id,
    region,
    regionId: city.nodeIds[region] ?? String(region),
    n: datasets[0]!.n,
    regionSeed: rng.seed,
    params: fit.params,
    epochsRun: fit.epochsRun,
    bestEpoch: fit.bestEpoch,
    steps: fit.steps,
    validated: fit.validated,
    train,
    val,
    haVal: { mae: ha.maeMean, rmse: ha.rmseMean },
    valCurve,
    trainMs: fit.trainMs,
    totalMs: performance.now() - t0,
  };
}
