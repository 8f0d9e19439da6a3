/** The prompts' config section (`prompts.*`). */
import { z } from 'zod';

/** The temporal prompt: the region's daily profile summary, plus a learned autoencoder code (`mae`), or none. */
export const TEMPORAL_PROMPTS = ['profile', 'mae', 'none'] as const;
export type TemporalPrompt = (typeof TEMPORAL_PROMPTS)[number];

export const PromptConfig = z
  .object({
    temporal: z.enum(TEMPORAL_PROMPTS).default('profile').describe('temporal prompt: profile components, plus the masked autoencoder code (mae), or none'),
    spatial: z.boolean().default(true).describe('use the spatial prompt (urban knowledge and graph position)'),
    /** Add the deviation's dynamics (autocorrelation, neighbour cross-correlation, spread) to the temporal prompt (prompts/temporal-dynamics.ts). */
    dynamics: z.boolean().default(false).describe("add the deviation's dynamics (autocorrelation, neighbour cross-correlation, spread) to the temporal prompt"),
  })
  .strict();
export type PromptConfig = z.output<typeof PromptConfig>;
