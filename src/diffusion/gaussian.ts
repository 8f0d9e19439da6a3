/**
 * Gaussian (DDPM) diffusion on flat vectors [B, P]: the forward process, the three network
 * parameterisations (noise, x0, v), the SNR-weighted training loss, and two samplers (ancestral
 * DDPM over all T steps and DDIM over S << T steps).
 *
 * Coefficients live in float64 (schedule.ts) and are gathered per batch into float32 [B, 1]
 * columns that broadcast over P. Samplers keep only the current state: every step's intermediates
 * are disposed, so memory is O(B x P) whatever T is.
 */
import { tf } from '../runtime/backend.js';
import type * as tfTypes from '@tensorflow/tfjs';
import type { Rng } from '../util/prng.js';
import { ddimStepCoefficients, ddimTimesteps, lossWeights, type NoiseSchedule } from './schedule.js';
import type { ClipRange, DenoiseFn, ExtraLoss, TrainingObjective, Objective, SampleOptions, Sampler } from './types.js';

type Tensor2D = tfTypes.Tensor2D;

export interface GaussianDiffusionOptions {
  /** Cap the loss weights' snr at gamma (min-SNR weighting); off by default, as in the GPD release. */
  minSnrGamma?: number;
}

export class GaussianDiffusion implements TrainingObjective {
  /** Per-step weight of the squared error (see lossWeights). */
  readonly lossWeight: Float64Array;

  constructor(
    readonly schedule: NoiseSchedule,
    readonly objective: Objective,
    readonly clip: ClipRange | null,
    opts: GaussianDiffusionOptions = {},
  ) {
    if (objective !== 'noise' && objective !== 'x0' && objective !== 'v') {
      throw new Error(`GaussianDiffusion: objective must be noise, x0 or v; got "${String(objective)}"`);
    }
    if (clip) checkClip(clip);
    this.lossWeight = lossWeights(schedule, objective, opts.minSnrGamma);
  }

  get T(): number {
    return this.schedule.T;
  }

  /** x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise. */
  qSample(x0: Tensor2D, t: Int32Array, noise: Tensor2D): Tensor2D {
    return tf.tidy(() => {
      const a = this.column(this.schedule.sqrtAlphasCumprod, t, x0);
      const s = this.column(this.schedule.sqrtOneMinusAlphasCumprod, t, x0);
      return tf.add(tf.mul(a, x0), tf.mul(s, noise)) as Tensor2D;
    });
  }

  /** What the network must output for (x0, noise, t): noise, x0, or v = sqrt(abar) noise - sqrt(1-abar) x0. */
  target(x0: Tensor2D, noise: Tensor2D, t: Int32Array): Tensor2D {
    if (this.objective === 'noise') return noise.clone();
    if (this.objective === 'x0') return x0.clone();
    return tf.tidy(() => {
      const a = this.column(this.schedule.sqrtAlphasCumprod, t, x0);
      const s = this.column(this.schedule.sqrtOneMinusAlphasCumprod, t, x0);
      return tf.sub(tf.mul(a, noise), tf.mul(s, x0)) as Tensor2D;
    });
  }

  /**
   * Weighted L2 loss of one batch: mean over examples of lossWeight[t] * mean over positions of
   * (output - target)^2, with t ~ U{0..T-1} and noise ~ N(0, I) drawn from rng (or given, for
   * tests and fixed validation sets). Differentiable w.r.t. the variables denoise uses.
   */
  trainingLoss(denoise: DenoiseFn, x0: Tensor2D, rng: Rng, fixed: { t?: Int32Array; noise?: Tensor2D } = {}, extra?: ExtraLoss): tfTypes.Scalar {
    const [B, P] = x0.shape;
    const t = fixed.t ?? randomSteps(rng, B, this.T);
    if (t.length !== B) throw new Error(`trainingLoss: ${t.length} timesteps for a batch of ${B}`);
    const noiseGiven = fixed.noise;
    if (noiseGiven && (noiseGiven.shape[0] !== B || noiseGiven.shape[1] !== P)) {
      throw new Error(`trainingLoss: noise shape [${noiseGiven.shape}] differs from x0 [${x0.shape}]`);
    }
    const noiseData = noiseGiven ? null : rng.normalArray(B * P);
    return tf.tidy(() => {
      const noise = noiseGiven ?? tf.tensor2d(noiseData!, [B, P]);
      const xt = this.qSample(x0, t, noise);
      const out = denoise(xt, tf.tensor1d(Float32Array.from(t)));
      checkOutput(out, B, P);
      const target = this.target(x0, noise, t);
      const perExample = tf.mean(tf.squaredDifference(out, target), 1);
      const w = tf.tensor1d(gather(this.lossWeight, t));
      const loss = tf.mean(tf.mul(perExample, w)) as tfTypes.Scalar;
      // A loss on the clean vectors the network implies (unclipped, so it stays differentiable).
      return extra ? (tf.add(loss, extra(this.impliedX0(out, xt, t))) as tfTypes.Scalar) : loss;
    });
  }

  /** x0 implied by the network output at (x_t, t), clipped to `clip` if configured. */
  predictX0(modelOut: Tensor2D, xt: Tensor2D, t: Int32Array): Tensor2D {
    return tf.tidy(() => {
      const x0 = this.impliedX0(modelOut, xt, t);
      return this.clip ? clipRows(x0, this.clip) : x0;
    });
  }

  /** x0 implied by the network output at (x_t, t), before any clipping. */
  impliedX0(modelOut: Tensor2D, xt: Tensor2D, t: Int32Array): Tensor2D {
    const s = this.schedule;
    if (this.objective === 'x0') return modelOut.clone();
    if (this.objective === 'noise') {
      return tf.sub(tf.mul(this.column(s.sqrtRecipAlphasCumprod, t, xt), xt), tf.mul(this.column(s.sqrtRecipm1AlphasCumprod, t, xt), modelOut));
    }
    return tf.sub(tf.mul(this.column(s.sqrtAlphasCumprod, t, xt), xt), tf.mul(this.column(s.sqrtOneMinusAlphasCumprod, t, xt), modelOut));
  }

  /**
   * Noise implied by the network output. For x0 and v objectives with clipping, it is re-derived
   * from the clipped x0 (so x_t = sqrt(abar) x0 + sqrt(1-abar) eps still holds); a noise
   * objective's output is used as is, like the GPD release.
   */
  predictNoise(modelOut: Tensor2D, xt: Tensor2D, t: Int32Array, x0?: Tensor2D): Tensor2D {
    return tf.tidy(() => {
      const s = this.schedule;
      if (this.objective === 'noise') return modelOut.clone();
      if (this.objective === 'v' && !this.clip) {
        // Closed form, no division: eps = sqrt(1-abar) x_t + sqrt(abar) v.
        return tf.add(tf.mul(this.column(s.sqrtOneMinusAlphasCumprod, t, xt), xt), tf.mul(this.column(s.sqrtAlphasCumprod, t, xt), modelOut)) as Tensor2D;
      }
      const x0hat = x0 ?? this.predictX0(modelOut, xt, t);
      return tf.div(tf.sub(tf.mul(this.column(s.sqrtRecipAlphasCumprod, t, xt), xt), x0hat), this.column(s.sqrtRecipm1AlphasCumprod, t, xt)) as Tensor2D;
    });
  }

  /** Mean of q(x_{t-1} | x_t, x0) = coef1[t] x0 + coef2[t] x_t. */
  posteriorMean(x0: Tensor2D, xt: Tensor2D, t: Int32Array): Tensor2D {
    return tf.tidy(() =>
      tf.add(tf.mul(this.column(this.schedule.posteriorMeanCoef1, t, xt), x0), tf.mul(this.column(this.schedule.posteriorMeanCoef2, t, xt), xt)) as Tensor2D,
    );
  }

  /**
   * Ancestral sampling over all T steps: x_{t-1} = posteriorMean(x0_hat, x_t) + sqrt(posteriorVariance[t]) z,
   * no noise at the last step. Random draws: x_T, then one z per step t = T-1..1.
   */
  ddpmSampler(): Sampler {
    return {
      sample: (denoise, shape, rng, opts) => {
        const T = this.T;
        return runSamplerLoop(shape, rng, T, opts, (x, k) => {
          const step = T - 1 - k;
          const t = new Int32Array(shape[0]).fill(step);
          const out = denoise(x, tf.fill([shape[0]], step, 'float32') as tfTypes.Tensor1D);
          checkOutput(out, shape[0], shape[1]);
          const x0 = this.predictX0(out, x, t);
          const mean = this.posteriorMean(x0, x, t);
          if (step === 0) return mean;
          const sd = Math.sqrt(this.schedule.posteriorVariance[step]!);
          return tf.add(mean, tf.mul(tf.tensor2d(rng.normalArray(shape[0] * shape[1]), shape), sd)) as Tensor2D;
        });
      },
    };
  }

  /**
   * DDIM over `steps` of the T steps (ddimTimesteps). eta = 0 is deterministic; eta = 1 with
   * steps = T reproduces DDPM's per-step variance (and, with the same rng, its samples up to
   * float32 rounding). Random draws: x_T, then one z per step with sigma > 0.
   */
  ddimSampler(steps: number, eta = 0): Sampler {
    if (!(eta >= 0)) throw new Error(`DDIM: eta must be >= 0, got ${eta}`);
    const times = ddimTimesteps(this.T, steps);
    return {
      sample: (denoise, shape, rng, opts) =>
        runSamplerLoop(shape, rng, steps, opts, (x, k) => {
          const step = times[k]!;
          const next = times[k + 1]!;
          const t = new Int32Array(shape[0]).fill(step);
          const out = denoise(x, tf.fill([shape[0]], step, 'float32') as tfTypes.Tensor1D);
          checkOutput(out, shape[0], shape[1]);
          const x0 = this.predictX0(out, x, t);
          if (next < 0) return x0;
          const eps = this.predictNoise(out, x, t, x0);
          const c = ddimStepCoefficients(this.schedule, step, next, eta);
          let y = tf.add(tf.mul(x0, c.sqrtAlphaNext), tf.mul(eps, c.dirCoef)) as Tensor2D;
          if (c.sigma > 0) y = tf.add(y, tf.mul(tf.tensor2d(rng.normalArray(shape[0] * shape[1]), shape), c.sigma));
          return y;
        }),
    };
  }

  /** coef[t_b] as a float32 [B, 1] column that broadcasts over positions. */
  private column(coef: Float64Array, t: Int32Array, like: Tensor2D): Tensor2D {
    if (t.length !== like.shape[0]) throw new Error(`GaussianDiffusion: ${t.length} timesteps for a batch of ${like.shape[0]}`);
    return tf.tensor2d(gather(coef, t), [t.length, 1]);
  }
}

/**
 * Start from x ~ N(0, I) drawn from rng and apply `update` `total` times. Each update runs in a
 * tidy and the previous state is disposed, so only one [B, P] state is alive between steps.
 */
export function runSamplerLoop(shape: [number, number], rng: Rng, total: number, opts: SampleOptions | undefined, update: (x: Tensor2D, k: number) => Tensor2D): Tensor2D {
  checkShape(shape);
  let x = tf.tensor2d(rng.normalArray(shape[0] * shape[1]), shape);
  try {
    for (let k = 0; k < total; k++) {
      const next = tf.tidy(() => update(x, k));
      x.dispose();
      x = next;
      opts?.onStep?.(k + 1, total);
    }
  } catch (err) {
    x.dispose();
    throw err;
  }
  return x;
}

/** coef[t_b] for each example, as float32 (validated: t in 0..T-1). */
export function gather(coef: Float64Array, t: Int32Array): Float32Array {
  const out = new Float32Array(t.length);
  for (let b = 0; b < t.length; b++) {
    const i = t[b]!;
    if (!(i >= 0 && i < coef.length)) throw new Error(`diffusion timestep ${i} (example ${b}) is outside 0..${coef.length - 1}`);
    out[b] = coef[i]!;
  }
  return out;
}

function randomSteps(rng: Rng, B: number, T: number): Int32Array {
  const t = new Int32Array(B);
  for (let b = 0; b < B; b++) t[b] = rng.int(T);
  return t;
}

/** Clip each row to [min, max] (scalars or per-position arrays of length P). */
export function clipRows(x: Tensor2D, clip: ClipRange): Tensor2D {
  const P = x.shape[1];
  return tf.tidy(() => {
    const bound = (v: Float32Array | number, name: string) => {
      if (typeof v === 'number') return tf.scalar(v);
      if (v.length !== P) throw new Error(`clip.${name} has ${v.length} positions, the data has ${P}`);
      return tf.tensor2d(v, [1, P]);
    };
    return tf.minimum(tf.maximum(x, bound(clip.min, 'min')), bound(clip.max, 'max')) as Tensor2D;
  });
}

function checkClip(clip: ClipRange): void {
  const { min, max } = clip;
  if (typeof min !== 'number' && typeof max !== 'number' && min.length !== max.length) {
    throw new Error(`clip range: min has ${min.length} positions, max has ${max.length}`);
  }
  const n = Math.max(typeof min === 'number' ? 1 : min.length, typeof max === 'number' ? 1 : max.length);
  for (let i = 0; i < n; i++) {
    const lo = typeof min === 'number' ? min : min[i]!;
    const hi = typeof max === 'number' ? max : max[i]!;
    if (!(lo <= hi)) throw new Error(`clip range: min ${lo} > max ${hi} at position ${i}`);
  }
}

export function checkShape(shape: [number, number]): void {
  if (!(Number.isInteger(shape[0]) && shape[0] > 0 && Number.isInteger(shape[1]) && shape[1] > 0)) {
    throw new Error(`sampler: shape must be two positive integers [batch, positions], got [${shape}]`);
  }
}

export function checkOutput(out: Tensor2D, B: number, P: number): void {
  if (out.rank !== 2 || out.shape[0] !== B || out.shape[1] !== P) {
    throw new Error(`denoiser returned shape [${out.shape}], expected [${B}, ${P}]`);
  }
}
