/**
 * The bank's unit of work: train one region of one source city on its subgraph and report its
 * vector and metrics (with the historical average on the same validation windows beside them).
 */
import type { City } from '../data/city.js';
import { OUT_STEPS } from '../data/task.js';
import { MetricsAccumulator } from '../metrics/metrics.js';
import type { Forecaster } from '../models/types.js';
import { Rng } from '../util/prng.js';
import { historicalAverageForecast } from '../baselines/historical-average.js';
import type { TrainOptions } from '../train/config.js';
import { regionDatasets, type CityPrep } from '../train/dataset.js';
import { fitForecaster, type FitHooks } from '../train/fit.js';
import { pooledMetrics, type Metric2 } from '../train/predict.js';
import { wholeCityRegion, type RegionData } from './region-slice.js';

/** `random`: independent init per region (GPD); `warm`: all regions start from one shared model (FNFM). */
export const INIT_KINDS = ['random', 'warm'] as const;
export type InitKind = (typeof INIT_KINDS)[number];

/** How a region trains (the same for every region of a bank). */
export interface RegionTraining {
  model: Forecaster;
  config: TrainOptions;
  /** Root seed of the bank; each region forks `${city}:${region}` from it. */
  seed: number;
  init: InitKind;
  /** The shared model's vector (warm init). */
  shared?: Float32Array;
}

/** Everything a region job on a whole city needs besides the region index. */
export interface RegionJobContext extends RegionTraining {
  city: City;
  prep: CityPrep;
}

export interface RegionResult {
  city: string;
  region: number;
  regionId: string;
  /** Subgraph size. */
  n: number;
  /** Seed of the region's own stream (Rng(seed).fork(`${city}:${region}`)). */
  regionSeed: number;
  params: Float32Array;
  epochsRun: number;
  bestEpoch: number;
  steps: number;
  /** False when the validation part held no observed target: the whole budget ran and the last epoch was kept. */
  validated: boolean;
  train: Metric2;
  val: Metric2;
  /** Historical average on the same validation windows. */
  haVal: Metric2;
  /** Validation loss of the initial parameters, then after each validated epoch. */
  valCurve: number[];
  trainMs: number;
  totalMs: number;
}

/** Train one region of one city (same result whichever process or order runs it). */
export async function trainRegionJob(ctx: RegionJobContext, region: number, hooks: FitHooks = {}): Promise<RegionResult> {
  const { city } = ctx;
  if (!Number.isInteger(region) || region < 0 || region >= city.N) throw new Error(`city ${city.id}: region ${region} does not exist (N = ${city.N})`);
  return trainRegion(ctx, wholeCityRegion(city, ctx.prep, region), hooks);
}

/**
 * Train one region from its data: the whole city or a slice of it (bank/region-slice.ts); both give
 * the same vector, bit for bit. The seed stream is the region's in its whole city.
 */
export async function trainRegion(ctx: RegionTraining, data: RegionData<CityPrep>, hooks: FitHooks = {}): Promise<RegionResult> {
  const t0 = performance.now();
  const { city, prep, node, region } = data;
  const { model } = ctx;
  const rng = new Rng(ctx.seed).fork(`${city.id}:${region}`);
  const datasets = regionDatasets(city, prep, node, 1, data.sub);
  let init: Float32Array;
  if (ctx.init === 'warm') {
    if (!ctx.shared) throw new Error('warm init needs the shared model vector');
    init = ctx.shared.slice();
  } else {
    init = model.layout.init(rng.fork('init'));
  }
  const valCurve: number[] = [];
  const fit = await fitForecaster(model, datasets, init, ctx.config, rng, {
    ...hooks,
    onValidate: (loss) => valCurve.push(loss),
  });

  const train = pooledMetrics(model, fit.params, datasets, 'train');
  const val = pooledMetrics(model, fit.params, datasets, 'val');
  const acc = new MetricsAccumulator(OUT_STEPS);
  for (const d of datasets) acc.add(historicalAverageForecast(prep.ha, city, node, d.val.starts), d.val.yRaw, d.val.yMask);
  const ha = acc.result();
  return {
    city: city.id,
    region,
    regionId: data.regionId,
    n: datasets[0]!.n,
    regionSeed: rng.seed,
    params: fit.params,
    epochsRun: fit.epochsRun,
    bestEpoch: fit.bestEpoch,
    steps: fit.steps,
    validated: fit.validated,
    train,
    val,
    haVal: { mae: ha.maeMean, rmse: ha.rmseMean },
    valCurve,
    trainMs: fit.trainMs,
    totalMs: performance.now() - t0,
  };
}
