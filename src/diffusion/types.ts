/**
 * Shared contracts of the diffusion part: what a denoising network looks like to the
 * objectives and samplers (schedule.ts, gaussian.ts, flow.ts) and to the trainer.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Rng } from '../util/prng.js';

/**
 * The network's raw output for noisy inputs xt [B, P] at per-example timesteps t: integer steps
 * 0..T-1 for DDPM/DDIM, or continuous times in [0, 1] for flow matching, always float32 [B].
 * Conditioning is closed over by the caller. Must not dispose its inputs.
 */
export type DenoiseFn = (xt: tfTypes.Tensor2D, t: tfTypes.Tensor1D) => tfTypes.Tensor2D;

/** What the network predicts: the added noise (eps), the clean sample (x0), or the velocity v. */
/** An extra training loss on the clean vectors the network implies ([B, P], normalised), e.g. a functional one. */
export type ExtraLoss = (x0hat: import('@tensorflow/tfjs').Tensor2D) => import('@tensorflow/tfjs').Scalar;

export const OBJECTIVES = ['noise', 'x0', 'v'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/**
 * Clipping of predicted x0 (in the model's normalised space), per position ([P] arrays) or
 * scalar bounds. Callers pass `null` for "no clipping".
 */
export interface ClipRange {
  min: Float32Array | number;
  max: Float32Array | number;
}

export interface SampleOptions {
  /** Called after each reverse step i = 1..total. */
  onStep?: (i: number, total: number) => void;
}

/**
 * Draws a batch of shape [B, P] from the model. Memory is O(B x P): only the current state is
 * kept, every intermediate is disposed per step. The caller owns (and disposes) the result.
 */
export interface Sampler {
  sample(denoise: DenoiseFn, shape: [number, number], rng: Rng, opts?: SampleOptions): tfTypes.Tensor2D;
}

/**
 * What a trainer needs from a diffusion process (GaussianDiffusion and FlowMatching both
 * implement it): a scalar loss for one batch of clean examples x0 [B, P], drawing its own
 * timesteps and noise from rng. Differentiable w.r.t. the variables denoise uses.
 */
export interface TrainingObjective {
  trainingLoss(denoise: DenoiseFn, x0: tfTypes.Tensor2D, rng: Rng, fixed?: object, extra?: ExtraLoss): tfTypes.Scalar;
}
