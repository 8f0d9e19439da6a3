/**
 * The bank's job kind, `bank-region`: one source region's training, self-contained (its slice,
 * the bank's training settings, the shared model's vector for warm init). Worker threads and cluster
 * workers run it through `runBankRegion`; bank/region-schema.ts validates it when it comes from Redis.
 */
import type { ModelName } from '../models/registry.js';
import { createForecaster } from '../models/registry.js';
import type { Forecaster } from '../models/types.js';
import type { TrainConfig } from '../train/config.js';
import type { CityPrep } from '../train/dataset.js';
import type { JobHooks } from './jobs.js';
import type { RegionData } from './region-slice.js';
import { trainRegion, type InitKind, type RegionResult } from './region-job.js';

export const BANK_REGION_JOB = 'bank-region';

export interface BankRegionPayload {
  model: ModelName;
  config: TrainConfig;
  /** The bank's root seed. */
  seed: number;
  init: InitKind;
  /** The shared model's vector (warm init). */
  shared?: Float32Array;
  data: RegionData<CityPrep>;
}

/** One forecaster per model name and thread: it caches constant tensors on its first forward. */
const models = new Map<ModelName, Forecaster>();

export function forecasterFor(name: ModelName): Forecaster {
  let m = models.get(name);
  if (!m) {
    m = createForecaster(name);
    models.set(name, m);
  }
  return m;
}

export function runBankRegion(p: BankRegionPayload, hooks: JobHooks = {}): Promise<RegionResult> {
  return trainRegion(
    { model: forecasterFor(p.model), config: p.config, seed: p.seed, init: p.init, ...(p.shared ? { shared: p.shared } : {}) },
    p.data,
    {
      ...(hooks.shouldStop ? { shouldStop: hooks.shouldStop } : {}),
      ...(hooks.yieldEveryStep ? { yieldEveryStep: true } : {}),
      onEpoch: (epoch, epochs) => hooks.onProgress?.(epoch, epochs),
    },
  );
}
