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

/** `random`: independent init per region (GPD); `warm`: all regions start from one shared model (FNFM). */
export const INIT_KINDS = ['random', 'warm'] as const;
export type InitKind = (typeof INIT_KINDS)[number];

/** Everything a region job needs besides the region index. */
export interface RegionJobContext {
  city: City;
  prep: CityPrep;
  model: Forecaster;
  config: TrainOptions;
  /** Root seed of the bank; each region forks `${city}:${region}` from it. */
  seed: number;
  init: InitKind;
  /** The shared model's vector (warm init). */
  shared?: Float32Array;
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
  const t0 = performance.now();
  const { city, prep, model } = ctx;
  if (!Number.isInteger(region) || region < 0 || region >= city.N) throw new Error(`city ${city.id}: region ${region} does not exist (N = ${city.N})`);
  const rng = new Rng(ctx.seed).fork(`${city.id}:${region}`);
  const datasets = regionDatasets(city, prep, region);
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
  for (const d of datasets) acc.add(historicalAverageForecast(prep.ha, city, region, d.val.starts), d.val.yRaw, d.val.yMask);
  const ha = acc.result();
  return {
    city: city.id,
    region,
    regionId: city.nodeIds[region] ?? String(region),
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
