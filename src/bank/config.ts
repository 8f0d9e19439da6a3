/**
 * The bank's config section (`bank.*`): what `buildBank`, `gpd bank build` and `gpd transfer` take.
 * The fit-loop fields come from train/config.ts with the bank's defaults.
 */
import { z } from 'zod';
import { MODEL_NAMES } from '../models/registry.js';
import { trainSection } from '../train/config.js';
import { INIT_KINDS } from './region-job.js';
import { EncodingConfig } from '../data/encoding.js';
import { formatIssues } from '../util/zod-issues.js';
import { ConfigError } from '../util/errors.js';

const positiveInt = z.number().int().positive();

/** lr 3e-3: the reference's 1e-4 leaves regions far from converged within a 30-epoch budget (docs/bank-format.md). */
export const BankConfig = trainSection({ epochs: 30, batchSize: 64, lr: 3e-3, weightDecay: 0, patience: 10 })
  .extend({
    model: z.enum(MODEL_NAMES).default('stgcn').describe('base forecaster'),
    init: z.enum(INIT_KINDS).default('warm').describe('random: independent init per region (GPD); warm: every region starts from one shared model (FNFM)'),
    /** Epochs of the shared model trained on all source regions (warm init and source-transfer baseline). */
    sharedEpochs: z.number().int().nonnegative().default(10).describe('epochs of the shared model (warm init and the source-transfer baseline)'),
    /** Also the threads of gpd transfer's evaluation (one target region per job): both are region jobs on the same cores. */
    workers: z.number().int().nonnegative().default(2).describe("worker threads for region jobs: the bank's training and gpd transfer's evaluation (0 = the main thread)"),
    groupSize: positiveInt.default(4).describe('regions per job handed to a worker'),
    /**
     * Fit every source model's value encoding on sliding blocks of this many days, each forecasting the
     * day after it, as a target's encoding is fitted on its K few-shot days (data/fit-blocks.ts; set it
     * to data.kDays); absent = on the whole training part.
     */
    encodingFitDays: positiveInt.optional().describe("fit the encoding on sliding blocks of n days, each forecasting the next day (a target's K-day regime); default: the whole training part"),
    maxRegions: positiveInt.optional().describe('only the first n regions of each city (quick runs); default: all'),
    /** Seed of the bank (default: the run's seed); experiments fix it to share one bank across seeds. */
    seed: z.number().int().optional().describe("the bank's seed (default: the run's seed)"),
    /** The bank folder; `gpd transfer` builds into `<run>/bank` when absent (experiments share one per source set). */
    dir: z.string().min(1).optional().describe('the bank folder'),
  })
  .strict();
export type BankConfig = z.output<typeof BankConfig>;
export type BankConfigInput = z.input<typeof BankConfig>;

/**
 * A library caller's bank options (any object holding bank.* fields and data.feature / data.baseline,
 * other keys ignored) with every unset field at the config's default; errors name the field.
 */
export function resolveBankOptions(opts: BankConfigInput & Partial<EncodingConfig> & Record<string, unknown>): { bank: BankConfig; feature: number; baseline: EncodingConfig['baseline'] } {
  const fields = Object.fromEntries(Object.keys(BankConfig.shape).filter((k) => k !== 'dir' && k !== 'seed' && opts[k] !== undefined).map((k) => [k, opts[k]]));
  const parsed = BankConfig.safeParse(fields);
  if (!parsed.success) throw new ConfigError(`bank build: ${formatIssues(parsed.error, fields, BankConfig, 'bank.').join('; ')}`);
  const enc = EncodingConfig.safeParse({ feature: opts.feature, baseline: opts.baseline });
  if (!enc.success) throw new ConfigError(`bank build: ${formatIssues(enc.error, { feature: opts.feature, baseline: opts.baseline }, EncodingConfig, 'data.').join('; ')}`);
  return { bank: parsed.data, ...enc.data };
}
