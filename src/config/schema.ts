/**
 * One configuration schema for every stage (data -> bank -> prompts -> diffusion -> transfer),
 * so a run folder's `config.json` fully describes how its results were made.
 * Every field has a default; a config file only names what differs.
 *
 * Each section is owned by the layer that uses it (bank/config.ts, train/config.ts, ...), so library
 * option types and the CLI's options derive from the same fields; this file assembles them.
 */
import { z } from 'zod';
import { EncodingConfig } from '../data/encoding.js';
import { SyntheticConfig } from '../data/resolve.js';
import { BankConfig } from '../bank/config.js';
import { FinetuneConfig } from '../train/config.js';
import { CorrectionBoundField } from '../train/correction-bound.js';
import { PromptConfig } from '../prompts/config.js';
import { DiffusionConfig, SamplingConfig } from '../diffusion/config.js';

export { BankConfig, DiffusionConfig, FinetuneConfig, PromptConfig, SamplingConfig };

const positiveInt = z.number().int().positive();

export const DataConfig = z
  .object({
    /** Source cities: manifest paths, folders with a city.json, or `synthetic:<name>` (embedded generator). */
    sources: z.array(z.string().min(1)).default(['synthetic:synth-a', 'synthetic:synth-b', 'synthetic:synth-c']),
    /** The target city (few-shot). */
    target: z.string().min(1).default('synthetic:synth-d'),
    /** Few-shot days of the target right before its test period. */
    kDays: positiveInt.default(3).describe('few-shot days right before the test period'),
    ...EncodingConfig.shape,
    ...SyntheticConfig.shape,
    /** Score at most this many target regions (a seeded sample, reported in the results); absent = all. */
    maxTargetRegions: positiveInt.optional(),
    /** Forecast corrections bounded by the few-shot days' (train/correction-bound.ts); changing it only rescores. */
    correctionBound: CorrectionBoundField,
  })
  .strict();

export const GpdConfig = z
  .object({
    seed: z.number().int().default(1),
    data: DataConfig.default(DataConfig.parse({})),
    bank: BankConfig.default(BankConfig.parse({})),
    prompts: PromptConfig.default(PromptConfig.parse({})),
    diffusion: DiffusionConfig.default(DiffusionConfig.parse({})),
    sampling: SamplingConfig.default(SamplingConfig.parse({})),
    finetune: FinetuneConfig.default(FinetuneConfig.parse({})),
  })
  .strict();

export type GpdConfig = z.infer<typeof GpdConfig>;

/** The JSON Schema of the config, for editors (`gpd config schema`). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(GpdConfig, { io: 'input' });
}
