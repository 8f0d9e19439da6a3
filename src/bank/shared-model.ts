/**
 * The shared model: one forecaster trained jointly on every source region's data (each mini-batch
 * comes from one region's subgraph; batches of all regions are shuffled together). It is the first
 * stage of the two-stage "warm" bank (every region then starts from it, as in FNFM) and the
 * "source transfer" baseline of PROTOCOL.md.
 *
 * Its loss is always in normalised units: cities of one bank may have different units and scales,
 * and an original-units loss would weight them by their variance.
 */
import type { City } from '../data/city.js';
import type { Forecaster } from '../models/types.js';
import { Rng } from '../util/prng.js';
import { fitForecaster, type FitHooks, type FitResult } from '../train/fit.js';
import { pooledMetrics, type Metric2 } from '../train/predict.js';
import { regionDatasets, type CityPrep, type RegionDataset } from '../train/dataset.js';
import type { TrainOptions } from '../train/config.js';

export interface SharedModelOptions {
  cities: City[];
  preps: CityPrep[];
  /** Regions 0..regions[i]-1 of city i take part. */
  regions: number[];
  model: Forecaster;
  config: TrainOptions;
  seed: number;
  hooks?: FitHooks;
}

export interface SharedModelResult extends FitResult {
  /** Pooled over every region's validation windows, original units. */
  val: Metric2;
}

export async function trainSharedModel(opts: SharedModelOptions): Promise<SharedModelResult> {
  const { cities, preps, model } = opts;
  const datasets: RegionDataset[] = [];
  cities.forEach((city, c) => {
    for (let r = 0; r < opts.regions[c]!; r++) datasets.push(...regionDatasets(city, preps[c]!, r));
  });
  if (datasets.length === 0) throw new Error('shared model: no regions to train on');
  const rng = new Rng(opts.seed).fork('shared');
  const init = model.layout.init(rng.fork('init'));
  const fit = await fitForecaster(model, datasets, init, { ...opts.config, lossSpace: 'normalized' }, rng, opts.hooks);
  return { ...fit, val: pooledMetrics(model, fit.params, datasets, 'val') };
}
