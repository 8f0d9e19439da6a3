/**
 * Flow matching (rectified flow / conditional OT path) on flat vectors [B, P].
 *
 * Convention: time runs from noise to data, x_t = (1 - t) z + t x0 with z ~ N(0, I), t in [0, 1];
 * the network predicts the velocity u = dx_t/dt = x0 - z. Sampling integrates dx/dt = u(x, t)
 * from t = 0 (pure noise) to t = 1 with Euler or Heun steps. The denoiser receives t as float32
 * in [0, 1] (scale it inside the network if its time embedding wants larger numbers).
 */
import { tf } from '../runtime/backend.js';
import type * as tfTypes from '@tensorflow/tfjs';
import type { Rng } from '../util/prng.js';
import { checkOutput, clipRows, runSamplerLoop } from './gaussian.js';
import type { ClipRange, DenoiseFn, ExtraLoss, Sampler, TrainingObjective } from './types.js';

type Tensor2D = tfTypes.Tensor2D;

export interface FlowMatchingOptions {
  /**
   * Clip the x0 implied by each velocity (x + (1 - t) u) before stepping, in the model's
   * normalised space; null/absent = no clipping.
   */
  clip?: ClipRange | null;
}

export class FlowMatching implements TrainingObjective {
  readonly clip: ClipRange | null;

  constructor(opts: FlowMatchingOptions = {}) {
    this.clip = opts.clip ?? null;
  }

  /** x_t = (1 - t) z + t x0 for per-example times t. */
  interpolate(x0: Tensor2D, noise: Tensor2D, t: Float32Array): Tensor2D {
    return tf.tidy(() => {
      const tc = timeColumn(t, x0.shape[0]);
      return tf.add(tf.mul(tf.sub(1, tc), noise), tf.mul(tc, x0)) as Tensor2D;
    });
  }

  /** The regression target: velocity x0 - z (independent of t on this path). */
  target(x0: Tensor2D, noise: Tensor2D): Tensor2D {
    return tf.sub(x0, noise) as Tensor2D;
  }

  /**
   * Mean over examples and positions of (u_theta(x_t, t) - (x0 - z))^2 with t ~ U[0, 1) and
   * z ~ N(0, I) drawn from rng (or given). Differentiable w.r.t. the variables denoise uses.
   */
  trainingLoss(denoise: DenoiseFn, x0: Tensor2D, rng: Rng, fixed: { t?: Float32Array; noise?: Tensor2D } = {}, extra?: ExtraLoss): tfTypes.Scalar {
    const [B, P] = x0.shape;
    const t = fixed.t ?? rng.uniformArray(B, 0, 1);
    if (t.length !== B) throw new Error(`flow trainingLoss: ${t.length} times for a batch of ${B}`);
    const noiseGiven = fixed.noise;
    if (noiseGiven && (noiseGiven.shape[0] !== B || noiseGiven.shape[1] !== P)) {
      throw new Error(`flow trainingLoss: noise shape [${noiseGiven.shape}] differs from x0 [${x0.shape}]`);
    }
    const noiseData = noiseGiven ? null : rng.normalArray(B * P);
    return tf.tidy(() => {
      const noise = noiseGiven ?? tf.tensor2d(noiseData!, [B, P]);
      const xt = this.interpolate(x0, noise, t);
      const out = denoise(xt, tf.tensor1d(t));
      checkOutput(out, B, P);
      const loss = tf.mean(tf.squaredDifference(out, this.target(x0, noise))) as tfTypes.Scalar;
      if (!extra) return loss;
      // x0_hat = x_t + (1 - t) u, as the sampler's velocity() uses it.
      const x0hat = tf.add(xt, tf.mul(out, tf.reshape(tf.sub(1, tf.tensor1d(t)), [B, 1]))) as Tensor2D;
      return tf.add(loss, extra(x0hat)) as tfTypes.Scalar;
    });
  }

  /** The velocity used for stepping: the network's, or the one pointing at the clipped x0. */
  velocity(denoise: DenoiseFn, x: Tensor2D, t: number): Tensor2D {
    const B = x.shape[0];
    return tf.tidy(() => {
      const u = denoise(x, tf.fill([B], t, 'float32') as tfTypes.Tensor1D);
      checkOutput(u, B, x.shape[1]);
      const remaining = 1 - t;
      if (!this.clip || remaining <= 0) return u.clone();
      // x0_hat = x + (1 - t) u; clip, then the velocity that reaches it in the remaining time.
      const x0 = clipRows(tf.add(x, tf.mul(u, remaining)) as Tensor2D, this.clip);
      return tf.div(tf.sub(x0, x), remaining) as Tensor2D;
    });
  }

  /** Explicit Euler on a uniform grid of `steps` steps: `steps` network calls. */
  eulerSampler(steps: number): Sampler {
    checkSteps(steps);
    return {
      sample: (denoise, shape, rng, opts) =>
        runSamplerLoop(shape, rng, steps, opts, (x, k) => {
          const h = 1 / steps;
          return tf.add(x, tf.mul(this.velocity(denoise, x, k * h), h)) as Tensor2D;
        }),
    };
  }

  /** Heun (explicit trapezoid) on a uniform grid: 2 x `steps` network calls, second order. */
  heunSampler(steps: number): Sampler {
    checkSteps(steps);
    return {
      sample: (denoise, shape, rng, opts) =>
        runSamplerLoop(shape, rng, steps, opts, (x, k) => {
          const h = 1 / steps;
          const t0 = k * h;
          const u0 = this.velocity(denoise, x, t0);
          const xEuler = tf.add(x, tf.mul(u0, h)) as Tensor2D;
          const u1 = this.velocity(denoise, xEuler, Math.min(1, t0 + h));
          const y = tf.add(x, tf.mul(tf.add(u0, u1), h / 2)) as Tensor2D;
          // At t = 1 the state is the x0 estimate itself; u1 there cannot point at a clipped
          // target, so clip the final state instead.
          return this.clip && k === steps - 1 ? clipRows(y, this.clip) : y;
        }),
    };
  }
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`flow sampler: steps must be a positive integer, got ${steps}`);
}

function timeColumn(t: Float32Array, B: number): Tensor2D {
  if (t.length !== B) throw new Error(`flow matching: ${t.length} times for a batch of ${B}`);
  for (let b = 0; b < B; b++) {
    if (!(t[b]! >= 0 && t[b]! <= 1)) throw new Error(`flow matching: time ${t[b]} (example ${b}) is outside [0, 1]`);
  }
  return tf.tensor2d(t, [B, 1]);
}
