/**
 * The fit loop: one forecaster trained on one or more region datasets (a bank region, the shared
 * model, or a few-shot target region being fine-tuned).
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
import { IN_FEATURES, IN_STEPS, OUT_STEPS } from '../data/task.js';
import type { RegionWindows } from '../data/windows.js';
import type { Forecaster } from '../models/types.js';
import type { Rng, RngState } from '../util/prng.js';
import { Cancelled } from '../util/progress.js';
import { trainConfigOf, type TrainOptions } from './config.js';
import type { RegionDataset } from './dataset.js';
import { FlatAdam, variableFrom, type AdamState } from './optimizer.js';
import { evaluateWindows } from './predict.js';

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
  /** Every validation loss, the initial parameters' first (not repeated on a resume). */
  onValidate?: (loss: number) => void;
  /**
   * After every epoch that does not end the fit: the state to continue from. A long fit (a shared model
   * over a year of data is an hour of Graph WaveNet) stores it so a killed build loses one epoch at most.
   */
  onCheckpoint?: (checkpoint: FitCheckpoint) => void;
  /** Continue from a checkpoint of the same fit (model, datasets, init, config and rng): the result is bit-identical. */
  resume?: FitCheckpoint;
}

/** Everything the loop carries from one epoch to the next. */
export interface FitCheckpoint {
  /** Epochs completed. */
  epoch: number;
  step: number;
  trainMs: number;
  params: Float32Array;
  best: Float32Array;
  /** Infinity while nothing finite was seen. */
  bestLoss: number;
  bestEpoch: number;
  /** Validations without improvement so far (early stopping). */
  bad: number;
  adam: AdamState;
  shuffle: RngState;
}

interface Batch {
  ds: number;
  idx: number[];
}

/**
 * Shuffled mini-batches over every dataset's training windows (drop-last, as the reference). With
 * `maxWindows`, a dataset holding more windows contributes only the first `maxWindows` of its shuffled
 * order: a fresh random draw each epoch. A dataset within the cap is planned exactly as without one
 * (same draws from `rng`), so a cap that does not bind changes nothing.
 */
function planEpoch(datasets: RegionDataset[], batchSize: number, rng: Rng, maxWindows?: number): Batch[] {
  const batches: Batch[] = [];
  datasets.forEach((d, ds) => {
    const count = d.train.count;
    if (count === 0) return;
    const order = rng.permutation(count);
    const used = maxWindows === undefined ? count : Math.min(count, maxWindows);
    // A dataset smaller than one batch still trains, on one short batch.
    const full = Math.max(1, Math.floor(used / batchSize));
    for (let b = 0; b < full; b++) batches.push({ ds, idx: order.slice(b * batchSize, Math.min(used, (b + 1) * batchSize)) });
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
  config: TrainOptions,
  rng: Rng,
  hooks: FitHooks = {},
): Promise<FitResult> {
  const cfg = trainConfigOf(config);
  if (init.length !== model.layout.size) throw new Error(`${model.name}: initial vector has ${init.length} values, the layout needs ${model.layout.size}`);
  const resume = hooks.resume;
  if (resume && resume.params.length !== init.length) throw new Error(`${model.name}: checkpoint holds ${resume.params.length} values, the layout needs ${init.length}`);
  const t0 = performance.now() - (resume?.trainMs ?? 0);
  const shuffleRng = rng.fork('shuffle');
  const params = variableFrom(tf.tensor1d(resume?.params ?? init), true);
  const adam = new FlatAdam(init.length, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  if (resume) {
    adam.restore(resume.adam);
    shuffleRng.restore(resume.shuffle);
  }
  const adjs = datasets.map((d) => tf.tensor2d(d.adjacency, [d.n, d.n]));
  let step = resume?.step ?? 0;

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
    let best: Float32Array;
    let bestLoss: number;
    if (resume) {
      best = resume.best.slice();
      bestLoss = resume.bestLoss;
    } else {
      best = init.slice();
      bestLoss = validate();
      hooks.onValidate?.(bestLoss);
      bestLoss = comparable(bestLoss);
    }
    let bestEpoch = resume?.bestEpoch ?? 0;
    let bad = resume?.bad ?? 0;
    let epoch = resume?.epoch ?? 0;
    while (epoch < cfg.epochs) {
      epoch++;
      const plan = planEpoch(datasets, cfg.batchSize, shuffleRng, cfg.maxWindowsPerEpoch);
      while (plan.length > 0 && plan.length < cfg.minStepsPerEpoch) plan.push(...planEpoch(datasets, cfg.batchSize, shuffleRng, cfg.maxWindowsPerEpoch));
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
      if (hooks.onCheckpoint && epoch < cfg.epochs) {
        const now = (params.dataSync() as Float32Array).slice();
        hooks.onCheckpoint({ epoch, step, trainMs: performance.now() - t0, params: now, best, bestLoss, bestEpoch, bad, adam: adam.snapshot(), shuffle: shuffleRng.state() });
      }
    }
    return { params: best, epochsRun: epoch, bestEpoch, bestValLoss: Number.isFinite(bestLoss) ? bestLoss : NaN, validated, steps: step, trainMs: performance.now() - t0 };
  } finally {
    params.dispose();
    adam.dispose();
    for (const a of adjs) a.dispose();
  }
}
