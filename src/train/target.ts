/**
 * A target city as the few-shot protocol sees it (PROTOCOL.md): the K days right before the test
 * period are all the training data there is; the normaliser and the historical average are fitted
 * on them alone; early stopping uses only the last 20% of those days; scores come from the test
 * period (last 30%).
 */
import type { City } from '../data/city.js';
import { fitValueEncoding } from '../data/baseline.js';
import { fewShotHoldout, targetSplit, type FewShotHoldout, type HoldoutKind, type TargetSplit } from '../data/splits.js';
import { regionSubgraph, type RegionSubgraph } from '../data/subgraph.js';
import { regionWindows } from '../data/windows.js';
import type { RegionWindows } from '../data/windows.js';
import { fitHistoricalAverage, type HistoricalAverage } from '../baselines/historical-average.js';
import type { Normalizer, BaselineKind } from '../data/encoding.js';
import { IN_STEPS } from '../data/task.js';
import type { RegionDataset } from './dataset.js';

export interface TargetPrep {
  city: City;
  split: TargetSplit;
  norm: Normalizer;
  ha: HistoricalAverage;
  feature: number;
  /** The few-shot days' fitting and validation parts (data/splits.ts fewShotHoldout). */
  holdout: FewShotHoldout;
}

/**
 * `baseline`: the value encoding of the models (data/baseline.ts), fitted on the few-shot days like
 * the normaliser; `holdout`: how the few-shot days split into fitting and validation (finetune.holdout).
 */
export function prepareTarget(city: City, kDays: number, feature: number, baseline: BaselineKind, holdout: HoldoutKind): TargetPrep {
  const split = targetSplit(city, kDays);
  return {
    city,
    split,
    norm: fitValueEncoding(city, split.fewShot, feature, baseline),
    ha: fitHistoricalAverage(city, split.fewShot, feature),
    feature,
    holdout: fewShotHoldout(city, split, holdout),
  };
}

export interface TargetRegion {
  region: number;
  /** Few-shot train/val windows (val targets in the holdout's validation part; their inputs may reach back into the fitting part). */
  dataset: RegionDataset;
  /** Test windows: targets inside the test period; the first inputs come from the few-shot days just before it. */
  test: RegionWindows;
}

/** `sub`: the region's subgraph when the caller has it (a region slice carries its own). */
export function targetRegion(prep: TargetPrep, region: number, sub: RegionSubgraph = regionSubgraph(prep.city, region)): TargetRegion {
  const { city, split, norm, holdout } = prep;
  const train = regionWindows(city, sub, holdout.train, norm);
  const val = regionWindows(city, sub, holdout.val, norm, { historyStart: split.fewShot.start });
  const test = regionWindows(city, sub, split.test, norm, { historyStart: split.test.start - IN_STEPS });
  return { region, dataset: { train, val, adjacency: sub.adjacency, n: sub.n, norm }, test };
}
