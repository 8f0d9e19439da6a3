/**
 * What a model's values are encoded with (the types; the fits live in normalize.ts and baseline.ts):
 * a z-score, optionally of the deviation from a seasonal baseline the network then only corrects.
 */
import { z } from 'zod';
import type { TimeProfile } from './time-profile.js';

export const BASELINE_KINDS = ['none', 'seasonal', 'seasonal-ar'] as const;
export type BaselineKind = (typeof BASELINE_KINDS)[number];

export interface Normalizer {
  feature: number;
  mean: number;
  std: number;
  /**
   * Present when models see deviations from a seasonal baseline (data/baseline.ts): then mean and
   * std are those of the deviations, and windows carry the baseline forecast in yOffset.
   */
  baseline?: SeasonalBaseline;
}

/** Smallest std used, so a constant series does not divide by zero. */
export const STD_FLOOR = 1e-6;

export interface SeasonalBaseline {
  kind: Exclude<BaselineKind, 'none'>;
  cityId: string;
  /** Smoothed time-of-day profile, original units. */
  profile: TimeProfile;
  /** lambda_1..6 in [0, 1]; all 0 for `seasonal`. */
  persistence: number[];
}

/**
 * The encoding's config fields (`data.feature`, `data.baseline`): every stage that fits an encoding
 * (bank, fine-tuning, scoring) takes them from here, so they default once.
 */
export const EncodingConfig = z.object({
  /** Which value channel to forecast when a city has several (e.g. nyc-bike-grid inflow = 0). */
  feature: z.number().int().nonnegative().default(0).describe('series channel to forecast (e.g. 0 = inflow of nyc-bike-grid)'),
  /**
   * `seasonal-ar` = the network corrects a smoothed time-of-day profile plus a damped persistence of
   * the last deviation; `seasonal` = the profile only; `none` = raw z-scores (the reference).
   */
  baseline: z
    .enum(BASELINE_KINDS)
    .default('seasonal-ar')
    .describe('value encoding: seasonal-ar = the network corrects a smoothed daily profile plus damped persistence; seasonal = the profile only; none = raw z-scores (the reference)'),
});
export type EncodingConfig = z.output<typeof EncodingConfig>;
