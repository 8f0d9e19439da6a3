/**
 * gpd library entry: the CLI's stages as typed functions.
 */
export { initBackend, useBackend, type BackendName } from './runtime/backend.js';
export { Rng } from './util/prng.js';
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
export { fitTimeProfile, type TimeProfile } from './data/time-profile.js';
export { regionSubgraph, allRegionSubgraphs, type RegionSubgraph } from './data/subgraph.js';
export { regionWindows, type RegionWindows } from './data/windows.js';
export { maskedMetrics, MetricsAccumulator, type HorizonMetrics } from './metrics/metrics.js';

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
export { runTransfer, type TransferOptions, type TransferResult } from './transfer/pipeline.js';
export { trainGeneratorFromBank, sampleForCity } from './transfer/stages.js';
export { METHODS, METHOD_LABELS } from './transfer/evaluate.js';

// config and report
export { loadConfig, ConfigError } from './config/load.js';
export { GpdConfig, DataConfig, BankConfig, PromptConfig, DiffusionConfig, SamplingConfig, FinetuneConfig, configJsonSchema } from './config/schema.js';
export { writeReport } from './report/write.js';
