/**
 * `buildBank`: pretrain one forecaster per region of every source city and store the flat vectors
 * (docs/bank-format.md). Resumable: rerunning the same build skips the regions already stored and
 * ends with the same bank, bit for bit, as an uninterrupted run (each region's result depends only
 * on its own seed stream, its data and its init, never on worker count or order).
 */
import type { City } from '../data/city.js';
import { initBackend } from '../runtime/backend.js';
import { Rng } from '../util/prng.js';
import { Cancelled, type ProgressFn } from '../util/progress.js';
import { localJobEngine } from './job-engine.js';
import { JobsFailed, type JobEngine, type RegionJob } from './jobs.js';
import { BANK_REGION_JOB, runBankRegion, type BankRegionPayload } from './region-payload.js';
import { sliceCityPrep, sliceRegion } from './region-slice.js';
import { trainSharedModel } from './shared-model.js';
import { readSharedCheckpoint, removeSharedCheckpoint, writeSharedCheckpoint } from './shared-checkpoint.js';
import {
  SHARED_FILE,
  entryKey,
  openBank,
  orderedEntries,
  readVector,
  regionFile,
  writeIndex,
  writeRegionVector,
  writeShared,
  BANK_FORMAT,
  BANK_FORMAT_VERSION,
  type BankCity,
  type BankEntry,
  type BankIndex,
  type BankSettings,
  type SharedEntry,
} from './store.js';
import type { BaselineKind, EncodingConfig } from '../data/encoding.js';
import { createForecaster } from '../models/registry.js';
import type { Forecaster } from '../models/types.js';
import { trainConfigOf, type TrainConfig } from '../train/config.js';
import { prepareCity, type CityPrep } from '../train/dataset.js';
import { ConfigError } from '../util/errors.js';
import { withFolderLock } from '../util/lock.js';
import type { RegionResult } from './region-job.js';
import { resolveBankOptions, type BankConfig, type BankConfigInput } from './config.js';

/**
 * The `bank` config section (defaults from bank/config.ts), the encoding fields of `data`, and what
 * only a library caller passes: the cities, the folder, the seed, callbacks.
 */
export type BuildBankOptions = Omit<BankConfigInput, 'dir' | 'seed'> &
  Partial<EncodingConfig> & {
    cities: City[];
    /** The bank folder (`bank.dir`). */
    dir: string;
    /** The bank's root seed (`bank.seed`, else the run's seed). */
    seed: number;
    signal?: AbortSignal;
    onProgress?: ProgressFn;
    /** Called once per region trained without an observed validation target (early stopping could not work there). */
    onWarning?: (message: string) => void;
    /**
     * Runs the region jobs: default the local one (bank.workers threads, bank/job-engine.ts); a cluster
     * engine (src/cluster/) sends them to workers through Redis. Either way the bank is the same.
     */
    engine?: JobEngine;
  };

export interface BuildBankResult {
  dir: string;
  index: BankIndex;
  /** Regions trained by this run / found already finished. */
  trained: number;
  skipped: number;
  ms: number;
}

/** How often index.json is refreshed while regions finish (the region files are the truth anyway). */
const INDEX_REFRESH_MS = 5000;

export async function buildBank(opts: BuildBankOptions): Promise<BuildBankResult> {
  const t0 = performance.now();
  if (opts.cities.length === 0) throw new ConfigError('bank build: no source cities');
  const ids = new Set<string>();
  for (const c of opts.cities) {
    if (ids.has(c.id)) throw new ConfigError(`bank build: source city ${c.id} is listed twice`);
    ids.add(c.id);
  }
  const { bank, feature, baseline } = resolveBankOptions(opts);
  await initBackend();
  const model = createForecaster(bank.model);
  const config = trainConfigOf(bank);
  const settings: BankSettings = {
    model: bank.model,
    layoutHash: model.layout.hash(),
    paramCount: model.layout.size,
    init: bank.init,
    seed: new Rng(opts.seed).seed,
    epochs: config.epochs,
    sharedEpochs: bank.init === 'warm' ? bank.sharedEpochs : null,
    batchSize: config.batchSize,
    lr: config.lr,
    weightDecay: config.weightDecay,
    patience: config.patience,
    evalEvery: config.evalEvery,
    lossSpace: config.lossSpace,
    feature,
    baseline,
    minStepsPerEpoch: config.minStepsPerEpoch,
    encodingFitDays: bank.encodingFitDays ?? null,
    maxRegions: bank.maxRegions ?? null,
    maxWindowsPerEpoch: config.maxWindowsPerEpoch ?? null,
  };
  const cities: BankCity[] = opts.cities.map((c) => ({ id: c.id, N: c.N, T: c.T, regions: Math.min(c.N, bank.maxRegions ?? c.N) }));
  const dir = opts.dir;
  // Every input is checked (each city's encoding and splits) before the folder is touched, so a
  // bad option or city leaves nothing behind.
  const preps = opts.cities.map((c) => prepareCity(c, feature, baseline, bank.encodingFitDays));
  return withFolderLock(dir, 'gpd bank build', () => fillBank({ t0, opts, bank, model, config, settings, cities, dir, feature, baseline, preps }));
}

interface BuildContext {
  t0: number;
  opts: BuildBankOptions;
  bank: BankConfig;
  model: Forecaster;
  config: TrainConfig;
  settings: BankSettings;
  cities: BankCity[];
  dir: string;
  feature: number;
  baseline: BaselineKind;
  preps: CityPrep[];
}

/** Train and store every region not yet in the (locked) bank folder. */
async function fillBank(ctx: BuildContext): Promise<BuildBankResult> {
  const { t0, opts, bank, model, config, settings, cities, dir, feature, baseline, preps } = ctx;
  const opened = openBank(dir, settings, cities, opts.onWarning);
  const finished = opened.finished;
  const skipped = finished.size;
  const total = cities.reduce((a, c) => a + c.regions, 0);
  const progress = opts.onProgress;
  const task = `bank ${bank.model}`;

  let shared: SharedEntry | null = opened.shared;
  let sharedVector: Float32Array | undefined;
  const currentIndex = (): BankIndex => ({
    format: BANK_FORMAT,
    version: BANK_FORMAT_VERSION,
    settings,
    cities,
    complete: finished.size === total,
    shared,
    entries: orderedEntries(cities, finished),
  });
  const writeIndexNow = () => writeIndex(dir, currentIndex());

  if (bank.init === 'warm') {
    if (shared) {
      sharedVector = readVector(dir, shared.file, settings.paramCount, settings.layoutHash);
    } else {
      const sharedEpochs = settings.sharedEpochs!;
      const resume = readSharedCheckpoint(dir, settings.paramCount, settings.layoutHash, opts.onWarning);
      const r = await trainSharedModel({
        cities: opts.cities,
        preps,
        regions: cities.map((c) => c.regions),
        model,
        config: { ...config, epochs: sharedEpochs },
        seed: settings.seed,
        hooks: {
          shouldStop: () => opts.signal?.aborted === true,
          yieldEveryStep: true,
          ...(resume ? { resume } : {}),
          onCheckpoint: (c) => writeSharedCheckpoint(dir, c, settings.layoutHash),
          onEpoch: (epoch, epochs, loss) => progress?.({ task: `${task} shared model`, done: epoch, total: epochs, detail: Number.isNaN(loss) ? undefined : `val loss ${loss.toFixed(4)}` }),
          // Fractional epochs between validations (the renderer throttles; this is cheap).
          onStep: (i, n, epoch) => {
            if (i < n) progress?.({ task: `${task} shared model`, done: epoch - 1 + i / n, total: sharedEpochs, detail: `epoch ${epoch}, step ${i}/${n}` });
          },
        },
      });
      shared = { file: SHARED_FILE, epochsRun: r.epochsRun, bestEpoch: r.bestEpoch, steps: r.steps, val: r.val, timings: { trainMs: r.trainMs } };
      writeShared(dir, shared, r.params, settings.layoutHash);
      removeSharedCheckpoint(dir);
      sharedVector = r.params;
      writeIndexNow();
    }
  }

  let trained = 0;
  let lastIndexWrite = performance.now();
  const store = (r: RegionResult) => {
    const entry: BankEntry = {
      city: r.city,
      region: r.region,
      regionId: r.regionId,
      n: r.n,
      file: regionFile(r.city, r.region),
      init: bank.init,
      seed: r.regionSeed,
      epochsRun: r.epochsRun,
      bestEpoch: r.bestEpoch,
      steps: r.steps,
      train: r.train,
      val: r.val,
      haVal: r.haVal,
      valCurve: r.valCurve,
      timings: { trainMs: r.trainMs, totalMs: r.totalMs },
    };
    writeRegionVector(dir, entry, r.params, settings.layoutHash);
    if (!r.validated) {
      opts.onWarning?.(`${r.city} region ${r.regionId}: the validation part has no observed target, so early stopping could not choose an epoch; it trained all ${r.epochsRun} epochs and kept the last (its val metrics are NaN)`);
    }
    finished.set(entryKey(r.city, r.region), entry);
    trained++;
    progress?.({ task, done: finished.size, total, detail: `${r.city} region ${r.region} val MAE ${r.val.mae.toFixed(3)} (HA ${r.haVal.mae.toFixed(3)})` });
    if (performance.now() - lastIndexWrite > INDEX_REFRESH_MS) {
      writeIndexNow();
      lastIndexWrite = performance.now();
    }
  };

  const jobs: RegionJob<BankRegionPayload>[] = [];
  opts.cities.forEach((city, ci) => {
    for (let r = 0; r < cities[ci]!.regions; r++) {
      if (finished.has(entryKey(city.id, r))) continue;
      jobs.push({
        kind: BANK_REGION_JOB,
        label: `${city.id} region ${r}`,
        payload: () => ({ model: bank.model, config, seed: settings.seed, init: bank.init, ...(sharedVector ? { shared: sharedVector } : {}), data: sliceRegion(city, preps[ci]!, r, sliceCityPrep) }),
      });
    }
  });
  progress?.({ task, done: finished.size, total, detail: skipped > 0 ? `resuming: ${skipped} regions already done` : undefined });

  const engine = opts.engine ?? localJobEngine({ workers: bank.workers, name: 'bank', entry: new URL('./worker.ts', import.meta.url), handlers: { [BANK_REGION_JOB]: runBankRegion } });
  try {
    const failures = await engine.run<BankRegionPayload, RegionResult>({
      what: 'bank build',
      jobs,
      groupSize: bank.groupSize,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onResult: (_, r) => store(r),
      onProgress: (lane, job, done, epochs) => progress?.({ task: `${task} worker`, done, total: epochs, detail: job.label, lane }),
    });
    if (failures.length > 0) throw new JobsFailed('bank build', failures, `${finished.size}/${total} regions stored in ${dir}`);
  } catch (err) {
    // Keep the summary in step with what is stored, then report (Cancelled: "rerun to resume").
    writeIndexNow();
    if (err instanceof Cancelled) throw new Cancelled(`bank build (${finished.size}/${total} regions stored in ${dir})`);
    throw err;
  }
  const index = currentIndex();
  writeIndex(dir, index);
  return { dir, index, trained, skipped, ms: performance.now() - t0 };
}
