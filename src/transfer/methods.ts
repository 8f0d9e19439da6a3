/**
 * The methods every target region is scored with (PROTOCOL.md), their labels, and the initial vectors
 * the model-based ones start from. Shared by the evaluation loop (evaluate.ts) and the per-region job
 * (region-eval.ts) that runs in a worker thread or on a cluster worker.
 */
/**
 * Method keys, in table order: PROTOCOL.md methods 1-2, the models' own seasonal baseline without any
 * network (only when data.baseline is not `none`), methods 3-8, then the untrained init of every
 * fine-tuned method (random init, bank mean, shared model, nearest prompt; GPD's is gpd_zero_shot), so
 * that what fine-tuning adds is visible for each, and last the generated and the random-init model
 * each calibrated by one scalar on the K days (no gradient step).
 *
 * Why the calibrated pair: with a seasonal baseline a random-init network outputs almost nothing, so
 * "random init" is the baseline itself, and a generated correction that points the right way but is
 * too large (the source cities' residuals are not the target's; transfer/shrink.ts) loses to it. Giving
 * both the same closed-form scale (prescaleToTraining: the output layer times the least-squares factor
 * on the few-shot training windows, clamped to [0, 1]) asks the question the zero-shot comparison is
 * for, whether the generated correction carries information a random one does not, without letting
 * either be trained. They are not zero-shot in the strict sense (one number per region is fitted on
 * target data) and are reported as their own rows, never as gpd_zero_shot.
 */
export const METHODS = [
  'ha',
  'last',
  'seasonal_baseline',
  'target_only',
  'source_transfer',
  'bank_mean',
  'nearest_prompt',
  'gpd_zero_shot',
  'gpd',
  'gpd_auto',
  'random_init',
  'bank_mean_zero_shot',
  'source_transfer_zero_shot',
  'nearest_prompt_zero_shot',
  'gpd_calibrated',
  'random_init_calibrated',
] as const;
export type Method = (typeof METHODS)[number];

/** Methods that forecast without a network: they have no model to store, forecast with or export. */
export const BASELINE_METHODS = ['ha', 'last', 'seasonal_baseline'] as const satisfies readonly Method[];
/**
 * Methods derived from others without any computation of their own: gpd_auto is, per region, GPD
 * zero-shot when its few-shot validation MAE is strictly lower than fine-tuned GPD's, else fine-tuned
 * GPD (chosen on the few-shot days only; the test period never chooses).
 */
export const DERIVED_METHODS = ['gpd_auto'] as const satisfies readonly Method[];
export type DerivedMethod = (typeof DERIVED_METHODS)[number];

/**
 * The rows that start from the generated vector: scored again when sampling.outputScale or
 * finetune.generatedStart changes (the generated file itself is kept; evaluate.ts).
 */
export const GENERATED_METHODS = ['gpd_zero_shot', 'gpd', 'gpd_calibrated'] as const satisfies readonly Method[];

/** gpd_auto's choice in one region from the few-shot validation MAEs: zero-shot only when it is strictly lower. */
export function gpdAutoChoice(validation: Partial<Record<'gpd' | 'gpd_zero_shot', { mae: number }>>): 'gpd' | 'gpd_zero_shot' {
  const zero = validation.gpd_zero_shot?.mae ?? NaN;
  const tuned = validation.gpd?.mae ?? NaN;
  return Number.isFinite(zero) && (!Number.isFinite(tuned) || zero < tuned) ? 'gpd_zero_shot' : 'gpd';
}

/** The methods a region job computes for `methods`: each derived row replaced by the rows it is chosen from. */
export function computedMethods(methods: readonly Method[]): Method[] {
  return [...new Set(methods.flatMap((m): Method[] => (m === 'gpd_auto' ? ['gpd_zero_shot', 'gpd'] : [m])))];
}

/** Methods whose forecasts come from a parameter vector: evaluation stores each region's vector and validation score. */
export const MODEL_METHODS = METHODS.filter((m) => !(BASELINE_METHODS as readonly Method[]).includes(m) && !(DERIVED_METHODS as readonly Method[]).includes(m)) as Exclude<
  Method,
  (typeof BASELINE_METHODS)[number] | (typeof DERIVED_METHODS)[number]
>[];
export type ModelMethod = (typeof MODEL_METHODS)[number];

export function isModelMethod(m: string): m is ModelMethod {
  return (MODEL_METHODS as readonly string[]).includes(m);
}

export const METHOD_LABELS: Record<Method, string> = {
  ha: 'Historical average',
  last: 'Last value',
  seasonal_baseline: 'Seasonal baseline (no network)',
  target_only: 'Target-only (random init, fine-tuned)',
  source_transfer: 'Source transfer (shared model, fine-tuned)',
  bank_mean: 'Bank mean (fine-tuned)',
  nearest_prompt: 'Nearest prompt (fine-tuned)',
  gpd_zero_shot: 'GPD zero-shot (generated, no training)',
  gpd: 'GPD (generated, fine-tuned)',
  gpd_auto: 'GPD auto (zero-shot or fine-tuned per region, chosen on the few-shot validation days)',
  random_init: 'Random init (no training)',
  bank_mean_zero_shot: 'Bank mean (no training)',
  source_transfer_zero_shot: 'Source transfer (shared model, no training)',
  nearest_prompt_zero_shot: 'Nearest prompt (no training)',
  gpd_calibrated: 'GPD calibrated (generated, one scale fitted on the K days)',
  random_init_calibrated: 'Random init calibrated (one scale fitted on the K days)',
};

/** Initial vectors per region for the model-based methods. */
export interface MethodInits {
  shared: Float32Array;
  bankMean: Float32Array;
  /** Nearest source vector per target region. */
  nearest: (region: number) => Float32Array;
  /** As the generator returns it (the zero-shot row scales it by sampling.outputScale). */
  generated: (region: number) => Float32Array;
}
