/**
 * gpd library entry: the CLI's stages as typed functions.
 */
export { initBackend, useBackend, type BackendName } from './runtime/backend.js';
export { Rng, hash32 } from './util/prng.js';
export { writeFileAtomic, writeJsonAtomic } from './util/atomic.js';
export type { ProgressEvent, ProgressFn } from './util/progress.js';

// data
export type { City, NodeAttributes } from './data/city.js';
export { DataError } from './data/city.js';
export { UserError, ArtefactError, FolderInUseError, StorageError, isUserError } from './util/errors.js';
export { lockFolder, withFolderLock, type FolderLock } from './util/lock.js';
export { loadCity } from './data/load.js';
export { resolveCity, resolveCities } from './data/resolve.js';
export { generateSyntheticCities, type SyntheticOptions } from './data/synthetic.js';
export { inspectCity, formatInspect } from './data/inspect.js';
export { sourceSplit, targetSplit } from './data/splits.js';
export type { StepRange } from './data/range.js';
export { fitNormalizer } from './data/normalize.js';
export { fitValueEncoding } from './data/baseline.js';
export { BASELINE_KINDS, type BaselineKind, type Normalizer, type SeasonalBaseline } from './data/encoding.js';
export { fitTimeProfile, profileAt, type TimeProfile } from './data/time-profile.js';
export { IN_STEPS, OUT_STEPS } from './data/task.js';
export { regionSubgraph, allRegionSubgraphs, type RegionSubgraph } from './data/subgraph.js';
export { regionWindows, type RegionWindows } from './data/windows.js';
export { maskedMetrics, MetricsAccumulator, type HorizonMetrics } from './metrics/metrics.js';

// baselines (no training)
export { historicalAveragePredict } from './baselines/historical-average.js';
export { lastValuePredict } from './baselines/last-value.js';

// models
export { ParamLayout, type ParamSpec } from './models/layout.js';
export type { Forecaster, ModelDims } from './models/types.js';
export { createStgcn } from './models/stgcn.js';
export { createGwn } from './models/gwn.js';

// bank
export { buildBank, type BuildBankOptions } from './bank/build.js';
export { loadBank, type LoadedBank } from './bank/store.js';
export { inspectBank, formatBankInspect } from './bank/inspect.js';
export { createForecaster, MODEL_NAMES, type ModelName } from './models/registry.js';
export { fitForecaster } from './train/fit.js';
export { prepareTarget, targetRegion, type TargetPrep } from './train/target.js';

// prompts
export { fitPromptSpec, regionPrompts, loadPromptSpec, savePromptSpec } from './prompts/build.js';

// diffusion
export { linearSchedule, cosineSchedule } from './diffusion/schedule.js';
export { GaussianDiffusion } from './diffusion/gaussian.js';
export { FlowMatching } from './diffusion/flow.js';
export { TransformerDenoiser, CONDITIONING_STRATEGIES } from './diffusion/denoisers/transformer.js';
export { trainDenoiser } from './diffusion/trainer.js';
export { loadGenerator, saveGenerator, Generator } from './diffusion/generator.js';

// transfer
export { runTransfer, plannedGpdRows, type TransferOptions, type TransferResult } from './transfer/pipeline.js';
export { trainGeneratorFromBank, sampleForCity } from './transfer/stages.js';
export { METHODS, METHOD_LABELS, type Method } from './transfer/evaluate.js';
export { RunFolder, RUN_FILES, type RunResults, type MethodSummary } from './transfer/run-folder.js';

// config and report
export { loadConfig, ConfigError } from './config/load.js';
export { resolveRunCities } from './config/cities.js';
export { samplerSteps, generatedOutputScale } from './diffusion/config.js';
export { generatedStartFor } from './train/config.js';
export { gpdRowsTag } from './transfer/eval-file.js';
export { GpdConfig, DataConfig, BankConfig, PromptConfig, DiffusionConfig, SamplingConfig, FinetuneConfig, configJsonSchema } from './config/schema.js';
export { writeReport } from './report/write.js';

// command-line helpers a script driving the library may reuse
export { ProgressRenderer } from './cli/progress.js';
