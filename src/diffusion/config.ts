/**
 * The generator's config sections: `diffusion.*` (process, denoiser, training) and `sampling.*`.
 * Each enum comes from the module that implements it.
 */
import { z } from 'zod';
import { CONDITIONING_STRATEGIES } from './conditioning/index.js';
import { GENERATIVE_PROCESSES, SAMPLERS, WEIGHTINGS } from './generator.js';
import { SCHEDULES } from './schedule.js';
import { TOKENIZERS } from './tokenize.js';
import { OBJECTIVES } from './types.js';

const positiveInt = z.number().int().positive();

export const DiffusionConfig = z
  .object({
    generative: z.enum(GENERATIVE_PROCESSES).default('ddpm'),
    schedule: z.enum(SCHEDULES).default('linear'),
    timesteps: positiveInt.default(500),
    /**
     * The reference predicts v with snr/(snr+1) loss weights; on our synthetic sets that weighting left
     * the prompt unused for hundreds of steps, so the default is x0 with uniform weights (docs/diffusion.md).
     */
    objective: z.enum(OBJECTIVES).default('x0'),
    weighting: z.enum(WEIGHTINGS).default('uniform'),
    tokenizer: z.enum(TOKENIZERS).default('layer'),
    tokenSize: positiveInt.default(512),
    width: positiveInt.default(64),
    layers: positiveInt.default(2),
    heads: positiveInt.default(4),
    conditioning: z.enum(CONDITIONING_STRATEGIES).default('pre-bias'),
    promptDropout: z.number().min(0).max(1).default(0.1),
    steps: positiveInt.default(600),
    batchSize: positiveInt.default(32),
    lr: z.number().positive().default(2e-3),
    ema: z.number().min(0).max(1).default(0.995),
    gradClip: z.number().positive().default(1),
    /** Share of source regions held out for model selection (never the target). */
    valShare: z.number().min(0).max(0.5).default(0.1),
    evalEvery: positiveInt.default(100),
    /**
     * Weight of the functional objective (transfer/functional.ts): the implied clean vectors run as
     * forecasters on their regions' training windows, their loss added to the diffusion loss; 0 = off.
     */
    functionalWeight: z.number().nonnegative().default(0).describe("weight of the forecasting loss of the implied clean vectors on their regions' own windows (0 = plain diffusion)"),
    functionalWindows: positiveInt.default(16).describe('windows per region and step of the functional objective'),
    /**
     * `neighbours`: the denoiser learns the vector minus the mean of the k bank vectors with the
     * nearest prompts, and generation adds that mean back (diffusion/prior.ts); `none`: the vector itself.
     * Default chosen on held-out source regions (experiments:specificity --quick, results/specificity-runs.txt):
     * specificity-mean with guidance 1 and 8 samples 0.541 (seed 1) / 0.495 (seed 2) against 0.059 without it.
     */
    prior: z.enum(['none', 'neighbours']).default('neighbours').describe('none: generate the vector; neighbours: generate its difference from the mean vector of the nearest prompts'),
    priorNeighbours: positiveInt.default(5).describe('prompts averaged by the neighbour prior'),
  })
  .strict();

export type DiffusionConfig = z.output<typeof DiffusionConfig>;

export const SamplingConfig = z
  .object({
    sampler: z.enum(SAMPLERS).default('ddim'),
    steps: positiveInt.default(50),
    eta: z.number().min(0).max(1).default(0),
    /**
     * Classifier-free guidance scale. Chosen on held-out source regions (experiments:specificity):
     * averaged samples with guidance 3 drift away from the region (specificity -0.613 at 8 samples, no prior),
     * guidance 1 with the neighbour prior and averaged samples reaches 0.54-0.58.
     */
    guidance: z.number().min(0).default(1),
    /**
     * Samples drawn per region and averaged into its one generated vector: an estimate of the
     * prompt's conditional mean rather than one draw (1 = a single sample, as the reference).
     * With the neighbour prior: specificity-mean 1 sample -0.166, 8 samples 0.541, 32 samples 0.581 (seed 1).
     */
    samples: positiveInt.default(16).describe("samples drawn per region and averaged into its generated vector (1 = one draw)"),
    /**
     * The generated model's correction of the baseline is multiplied by this on a new city (its output
     * layer scaled: both models are bias-free). The source cities' corrections point the right way on
     * a new city but are several times too large there. Chosen on pseudo-targets cut from the data
     * before every test period, each city scored with its family partner's generator (npm run
     * experiments:zero-shot-scale, results/zero-shot-scale.txt, K = 3): the zero-shot error against
     * random init, mean over the eight cities, is +9.7% at 1 (the generator as it comes out), +1.9%
     * at 0.5, -0.6% at 0.1 and 0.15, -0.3% at 0 (the baseline alone); leaving each city out of the
     * choice picks 0.1 or 0.15 for it. Under raw z-scores (data.baseline none) the network's output is
     * the whole forecast, not a correction, and the factor was not measured there: unset, it is 1 then
     * (generatedOutputScale).
     */
    outputScale: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("the generated model's correction of the baseline times this on the target (output layer scaled); default 0.1 with a seasonal baseline, 1 under data.baseline none"),
    /**
     * The zero-shot row's factor: `few-shot` chooses it per target city from ZERO_SHOT_SCALE_GRID on
     * the city's K days (transfer/zero-shot-scale.ts); `fixed` is outputScale itself. Fine-tuned GPD
     * starts from outputScale either way (finetune.generatedStart, measured at that start). Measured on
     * the eight pseudo-targets (npm run experiments:zero-shot-scale, K = 3; change against random
     * init): one factor for all cities (0.1, chosen on the cities' mean) -0.6% in the mean, worst city
     * +0.3%, below random init in 7 of 8; chosen per city on its K days -0.8%, worst city -0.1%, 8 of 8;
     * chosen on the validation day alone -0.7%, worst city +0.7%. K = 7 (seven cities): per city -1.8%,
     * worst -0.1%, 7 of 7; the best fixed factor (0.2) -1.0%, worst +0.3%. K = 1 (six cities): per city
     * -0.2%, worst +0.1%; fixed 0.1 -0.2%, worst +0.3%. Under data.baseline none the factor scales the
     * whole forecast, so it stays fixed there.
     */
    zeroShotScale: z
      .enum(['few-shot', 'fixed'])
      .default('few-shot')
      .describe("the zero-shot model's output scale: chosen per target city on its few-shot days (few-shot), or sampling.outputScale (fixed); fixed under data.baseline none"),
  })
  .strict();
export type SamplingConfig = z.output<typeof SamplingConfig>;

/** The output scale generated models get on a target: sampling.outputScale, or its default for the encoding. */
export function generatedOutputScale(sampling: Pick<SamplingConfig, 'outputScale'>, baseline: string): number {
  return sampling.outputScale ?? (baseline === 'none' ? 1 : 0.1);
}

/** Whether the zero-shot scale is chosen on the target's few-shot days (never under raw z-scores: there it scales the whole forecast). */
export function zeroShotScaleChosen(sampling: Pick<SamplingConfig, 'zeroShotScale'>, baseline: string): boolean {
  return sampling.zeroShotScale === 'few-shot' && baseline !== 'none';
}

/** Denoising steps a sampler runs: DDPM always runs all T of the process, the others `sampling.steps`. */
export function samplerSteps(sampling: Pick<SamplingConfig, 'sampler' | 'steps'>, timesteps: number): number {
  return sampling.sampler === 'ddpm' ? timesteps : sampling.steps;
}
