/**
 * The fit loop's settings as a config section. The bank (pretraining) and fine-tuning use the same
 * loop with different defaults, so each builds its section from `trainSection` with its own
 * defaults; the bounds exist once, here, and the CLI derives its options from them.
 */
import { z } from 'zod';
import { formatIssues } from '../util/zod-issues.js';
import { HOLDOUT_KINDS } from '../data/splits.js';

/** 'original': MSE in the data's units as the reference does (weight decay then acts relative to that scale). */
export const LOSS_SPACES = ['original', 'normalized'] as const;
export type LossSpace = (typeof LOSS_SPACES)[number];

const fields = {
  epochs: () => z.number().int().nonnegative().describe('maximum training epochs (0 = keep the initial parameters)'),
  batchSize: () => z.number().int().positive().describe('mini-batch size'),
  lr: () => z.number().positive().describe('Adam learning rate'),
  weightDecay: () => z.number().nonnegative().describe('Adam L2 weight decay (added to the gradient, as PyTorch Adam)'),
  patience: () => z.number().int().positive().describe('early stopping: validations without improvement'),
  evalEvery: () => z.number().int().positive().describe('validate every this many epochs'),
  lossSpace: () => z.enum(LOSS_SPACES).describe('loss in original units (the reference) or normalised units'),
  minStepsPerEpoch: () =>
    z
      .number()
      .int()
      .positive()
      .describe(
        'an epoch is at least this many steps (repeated reshuffled passes): 3 hourly days hold ~40 windows, one step per epoch',
      ),
  maxWindowsPerEpoch: () =>
    z
      .number()
      .int()
      .positive()
      .describe(
        "an epoch draws at most this many of each dataset's training windows (a fresh random draw every epoch): a year of data costs what a season does; default: all",
      ),
};

/**
 * Every fit-loop setting (what fitForecaster takes). The budget (epochs, batch, lr, decay, patience)
 * has no default here: the bank and fine-tuning sections each set their own. The rest default to a
 * plain loop: validate every epoch, plain epochs, the reference's original-units loss.
 */
export const TrainFields = z
  .object({
    epochs: fields.epochs(),
    batchSize: fields.batchSize(),
    lr: fields.lr(),
    weightDecay: fields.weightDecay(),
    patience: fields.patience(),
    evalEvery: fields.evalEvery().default(1),
    lossSpace: fields.lossSpace().default('original'),
    minStepsPerEpoch: fields.minStepsPerEpoch().default(1),
    maxWindowsPerEpoch: fields.maxWindowsPerEpoch().optional(),
  })
  .strict();
export type TrainConfig = z.output<typeof TrainFields>;
/** What callers pass (the loop's own defaults may be left out). */
export type TrainOptions = z.input<typeof TrainFields>;

type Budget = Pick<TrainConfig, 'epochs' | 'batchSize' | 'lr' | 'weightDecay' | 'patience'> & Partial<TrainConfig>;

/** The fit-loop fields with a section's defaults (the loop's own where the section has none). */
export function trainSection(d: Budget) {
  const loop = TrainFields.parse({ ...d });
  return z.object({
    epochs: fields.epochs().default(loop.epochs),
    batchSize: fields.batchSize().default(loop.batchSize),
    lr: fields.lr().default(loop.lr),
    weightDecay: fields.weightDecay().default(loop.weightDecay),
    patience: fields.patience().default(loop.patience),
    evalEvery: fields.evalEvery().default(loop.evalEvery),
    lossSpace: fields.lossSpace().default(loop.lossSpace),
    minStepsPerEpoch: fields.minStepsPerEpoch().default(loop.minStepsPerEpoch),
    // No default: absent means every window, and leaves every existing config (and bank key) as it was.
    maxWindowsPerEpoch: fields.maxWindowsPerEpoch().optional(),
  });
}

/** The fit-loop part of a section or options object (other keys dropped), checked; messages name the field. */
export function trainConfigOf(c: TrainOptions | (TrainOptions & Record<string, unknown>)): TrainConfig {
  const source = c as Record<string, unknown>;
  const picked = Object.fromEntries(Object.keys(TrainFields.shape).filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
  const r = TrainFields.safeParse(picked);
  if (!r.success) throw new Error(`training: ${formatIssues(r.error, picked, TrainFields).join('; ')}`);
  return r.data;
}

/** How many least-squares factors prescale and shrink fit per region (train/calibrate.ts). */
export const CALIBRATIONS = ['region', 'per-horizon'] as const;
export type Calibration = (typeof CALIBRATIONS)[number];

/** Where fine-tuned GPD starts (finetune.generatedStart); `auto` resolves by K (generatedStartFor). */
export const GENERATED_STARTS = ['auto', 'scaled', 'unscaled', 'validation'] as const;
export type GeneratedStart = Exclude<(typeof GENERATED_STARTS)[number], 'auto'>;

/**
 * `auto`: `scaled` below seven few-shot days, `validation` from seven. Measured on pseudo-targets (npm
 * run experiments:finetune-init; change of the pseudo-test MAE against target-only, mean over cities):
 * K = 3, eight cities: scaled -0.15% (7 of 8 lower), unscaled +0.08%, validation +0.09%; K = 7, seven
 * cities: scaled -1.01%, unscaled -1.84%, validation -1.95%. Three days cannot size a transferred
 * correction (the least-squares prescale overfits them); seven can. K in between was not measured.
 */
export function generatedStartFor(start: (typeof GENERATED_STARTS)[number], kDays: number): GeneratedStart {
  if (start !== 'auto') return start;
  return kDays >= 7 ? 'validation' : 'scaled';
}

/** Fine-tuning on a target's few-shot days: the fit loop with its own budget, plus the calibration steps. */
export const FinetuneConfig = trainSection({ epochs: 20, batchSize: 32, lr: 1e-3, weightDecay: 0, patience: 5, lossSpace: 'normalized', minStepsPerEpoch: 20 })
  .extend({
    /**
     * After fine-tuning, scale the network's correction of the baseline by its least-squares factor on
     * the few-shot validation windows, clamped to [0, 1] (train/calibrate.ts); every fine-tuned method
     * alike. Measured (seed 1, the four shared cities): GPD 3.275 -> 3.093 on la-loop, 3.523 -> 3.411 on
     * shenzhen, 0.787 -> 0.615 on montevideo, 5.104 -> 5.113 on nyc; target-only within 0.04.
     */
    shrink: z.boolean().default(true).describe("after fine-tuning, scale the network's correction by its least-squares factor on the few-shot validation windows, in [0, 1]"),
    /**
     * Before fine-tuning, scale the init's correction by its least-squares factor on the few-shot
     * TRAINING windows, clamped to [0, 1] (train/calibrate.ts, prescaleToTraining); every fine-tuned
     * method alike. Transferred corrections are several times too large on a new city (the factor was
     * ~0.3 for generated models on la-loop, ~0.05 on montevideo-bus), and the fine-tuning budget does not
     * undo that. Measured (seed 1, 24 regions): GPD 3.093 -> 3.052 on la-loop, 0.615 -> 0.600 on
     * montevideo-bus; target-only 3.075 -> 3.081 and 0.601 -> 0.602.
     */
    /**
     * Keep the (prescaled) init unless the fine-tuned parameters beat it on the few-shot validation
     * windows by more than this many standard errors of the paired per-window difference
     * (train/finetune.ts); 0 = plain early stopping. Chosen on pseudo-targets cut from the data before
     * every test period (npm run experiments:finetune-guard, results/finetune-guard.txt): target-only
     * over the eight cities ended 5.0% worse than its init on average at 0 (25.8% on metro-shanghai),
     * 1.7% at 1, and 0.3% better at 2 (no city worse).
     */
    guard: z.number().nonnegative().default(2).describe('keep the init unless fine-tuning beats it on validation by this many standard errors (0 = off)'),
    /**
     * After the shrink, keep the encoding's baseline alone (the correction zeroed) unless the model
     * beats it on the few-shot validation windows by `guard` standard errors, as the guard does for the
     * init: the shrink's factor is fitted on those same windows, so a correction that does not carry
     * over still keeps a small positive factor by chance.
     */
    baselineGuard: z.boolean().default(false).describe('keep the baseline alone unless the fine-tuned model beats it on validation by `guard` standard errors'),
    /** How the few-shot days split into fitting and validation (data/splits.ts fewShotHoldout). */
    holdout: z.enum(HOLDOUT_KINDS).default('days').describe('few-shot validation: the last whole day(s) (days) or the last 20% (tail)'),
    prescale: z.boolean().default(true).describe("before fine-tuning, scale the init's correction by its least-squares factor on the few-shot training windows, in [0, 1]"),
    /**
     * Prescale and shrink fit one factor per region (`region`) or one per horizon step
     * (`per-horizon`, six per region): transferred corrections carry over unevenly across steps (on
     * metro-shanghai the generated correction's correlation with the residual falls from 0.49 at step 1
     * to 0.27 at step 3; results/target-correction.txt).
     */
    calibration: z.enum(CALIBRATIONS).default('region').describe('prescale and shrink fit one least-squares factor per region, or one per horizon step'),
    /**
     * Where fine-tuned GPD starts: the generated vector as the zero-shot row uses it (`scaled`, times
     * sampling.outputScale), as the generator returns it (`unscaled`; prescale then sizes it on the K
     * days), or both fine-tuned and the one with the lower few-shot validation MAE kept (`validation`);
     * `auto` chooses by K as measured on pseudo-targets (generatedStartFor).
     */
    generatedStart: z
      .enum(GENERATED_STARTS)
      .default('auto')
      .describe("fine-tuned GPD starts from the generated vector scaled by sampling.outputScale, unscaled, or the better of both on the few-shot validation days; auto: scaled below 7 days, validation from 7"),
  })
  .strict();
export type FinetuneConfig = z.output<typeof FinetuneConfig>;
export type FinetuneConfigInput = z.input<typeof FinetuneConfig>;
