/**
 * The functional objective of the generator (diffusion.functionalWeight; beyond the paper): the
 * clean parameter vectors the denoiser implies for a batch are run as forecasters on their regions'
 * own training windows, and their forecast loss joins the diffusion loss. The diffusion loss asks the
 * generator to reproduce a region's bank vector, which carries the noise of one training run; this
 * asks it for a vector that forecasts the region well, which is what a generated model is for.
 *
 * The forecasters give gradients with respect to their parameters (their forwards are differentiable
 * functions of the flat vector), so the loss flows back into the denoiser.
 */
import { tf } from '../runtime/backend.js';
import type * as tfTypes from '@tensorflow/tfjs';
import type { Forecaster } from '../models/types.js';
import { IN_FEATURES, IN_STEPS, OUT_STEPS } from '../data/task.js';
import { prepareCity, regionDatasets, type CityPrep, type RegionDataset } from '../train/dataset.js';
import type { City } from '../data/city.js';
import type { LoadedBank } from '../bank/store.js';
import type { Normalizer } from '../diffusion/tokenize.js';
import type { BatchLoss } from '../diffusion/trainer.js';
import type { Rng } from '../util/prng.js';

/** A region's training windows kept for the functional loss (a strided subset, normalised as the region's encoding). */
export interface FunctionalSample {
  n: number;
  adjacency: Float32Array;
  count: number;
  /** [count, n, 12, 2] */
  x: Float32Array;
  /** [count, 6] normalised targets and [count, 6] observed flags. */
  y: Float32Array;
  mask: Float32Array;
}

/** At most `max` evenly spaced training windows of each dataset (several datasets pooled). */
export function functionalSample(datasets: RegionDataset[], max: number): FunctionalSample {
  const d0 = datasets[0]!;
  const n = d0.n;
  const all = datasets.flatMap((d) => Array.from({ length: d.train.count }, (_, k) => [d, k] as const));
  const pick = all.length <= max ? all : Array.from({ length: max }, (_, i) => all[Math.floor((i * all.length) / max)]!);
  const per = n * IN_STEPS * IN_FEATURES;
  const x = new Float32Array(pick.length * per);
  const y = new Float32Array(pick.length * OUT_STEPS);
  const mask = new Float32Array(pick.length * OUT_STEPS);
  pick.forEach(([d, k], i) => {
    x.set(d.train.x.subarray(k * per, (k + 1) * per), i * per);
    for (let h = 0; h < OUT_STEPS; h++) {
      y[i * OUT_STEPS + h] = d.train.y[k * OUT_STEPS + h]!;
      mask[i * OUT_STEPS + h] = d.train.yMask[k * OUT_STEPS + h]!;
    }
  });
  return { n, adjacency: d0.adjacency, count: pick.length, x, y, mask };
}

/**
 * The batch loss: mean over the batch's rows of each implied forecaster's masked MSE (normalised
 * units) on `windows` windows of its region drawn per step, times `weight`. `samples[row]` belongs to
 * training row `row`; `norm` maps the generator's normalised vectors back to parameters.
 */
export function functionalLoss(
  model: Forecaster,
  samples: FunctionalSample[],
  norm: Normalizer,
  weight: number,
  windows: number,
  /** Per training row, what the generator adds to its output before denormalising (the neighbour prior). */
  offsets?: Float32Array[],
): { loss: BatchLoss; dispose: () => void } {
  const P = norm.mean.length;
  const mean = tf.keep(tf.tensor2d(norm.mean, [1, P]));
  const std = tf.keep(tf.tensor2d(norm.std, [1, P]));
  const adjs = samples.map((s) => tf.keep(tf.tensor2d(s.adjacency, [s.n, s.n])));
  const loss: BatchLoss = (x0hat: tfTypes.Tensor2D, rows: number[], rng: Rng) => {
    let z: tfTypes.Tensor2D = x0hat;
    if (offsets) {
      const buf = new Float32Array(rows.length * P);
      rows.forEach((row, b) => buf.set(offsets[row]!, b * P));
      z = tf.add(x0hat, tf.tensor2d(buf, [rows.length, P])) as tfTypes.Tensor2D;
    }
    const params = tf.add(tf.mul(z, std), mean) as tfTypes.Tensor2D;
    const terms: tfTypes.Scalar[] = [];
    rows.forEach((row, b) => {
      const s = samples[row]!;
      if (s.count === 0) return;
      const W = Math.min(windows, s.count);
      const pick = rng.fork(`row:${b}`).permutation(s.count).slice(0, W);
      const per = s.n * IN_STEPS * IN_FEATURES;
      const xb = new Float32Array(W * per);
      const yb = new Float32Array(W * OUT_STEPS);
      const mb = new Float32Array(W * OUT_STEPS);
      pick.forEach((k, i) => {
        xb.set(s.x.subarray(k * per, (k + 1) * per), i * per);
        yb.set(s.y.subarray(k * OUT_STEPS, (k + 1) * OUT_STEPS), i * OUT_STEPS);
        mb.set(s.mask.subarray(k * OUT_STEPS, (k + 1) * OUT_STEPS), i * OUT_STEPS);
      });
      const observed = mb.reduce((a, v) => a + v, 0);
      if (observed === 0) return;
      const p = tf.reshape(tf.slice(params, [b, 0], [1, P]), [P]) as tfTypes.Tensor1D;
      const pred = model.forward(p, tf.tensor4d(xb, [W, s.n, IN_STEPS, IN_FEATURES]), adjs[row]!, { training: true });
      const centre = tf.reshape(tf.slice(pred, [0, 0, 0], [W, 1, OUT_STEPS]), [W, OUT_STEPS]);
      const err = tf.mul(tf.sub(centre, tf.tensor2d(yb, [W, OUT_STEPS])), tf.tensor2d(mb, [W, OUT_STEPS]));
      terms.push(tf.div(tf.sum(tf.square(err)), observed) as tfTypes.Scalar);
    });
    if (terms.length === 0) return tf.scalar(0);
    return tf.mul(tf.div(tf.addN(terms), terms.length), weight) as tfTypes.Scalar;
  };
  return {
    loss,
    dispose: () => {
      mean.dispose();
      std.dispose();
      for (const a of adjs) a.dispose();
    },
  };
}

/** Every bank entry's functional sample (aligned with bank.vectors), from its city's training part under the bank's encoding. */
export function bankFunctionalSamples(bank: LoadedBank, cities: City[], maxWindows = 256): FunctionalSample[] {
  const s = bank.settings;
  const preps = new Map<string, CityPrep>();
  return bank.entries.map((e) => {
    const city = cities.find((c) => c.id === e.city);
    if (!city) throw new Error(`bank entry ${e.city}/${e.region}: its city is not among the given cities`);
    let prep = preps.get(city.id);
    if (!prep) {
      prep = prepareCity(city, s.feature, s.baseline, s.encodingFitDays ?? undefined);
      preps.set(city.id, prep);
    }
    return functionalSample(regionDatasets(city, prep, e.region), maxWindows);
  });
}
