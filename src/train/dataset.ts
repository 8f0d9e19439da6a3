/**
 * A region's training data: its subgraph's windows under its city's value encoding. Sources split
 * 80/20 over their whole timeline (prepareCity); a few-shot target is prepared in train/target.ts.
 */
import type { City } from '../data/city.js';
import type { Normalizer } from '../data/encoding.js';
import type { BaselineKind } from '../data/encoding.js';
import { fitValueEncoding } from '../data/baseline.js';
import { sourceSplit, type SourceSplit } from '../data/splits.js';
import type { StepRange } from '../data/range.js';
import { encodingBlocks, type EncodingBlock } from '../data/fit-blocks.js';
import { regionSubgraph, type RegionSubgraph } from '../data/subgraph.js';
import { IN_STEPS } from '../data/task.js';
import { regionWindows, type RegionWindows } from '../data/windows.js';
import { fitHistoricalAverage, type HistoricalAverage } from '../baselines/historical-average.js';

/** One region's windows on its subgraph, normalised with its city's training normaliser. */
export interface RegionDataset {
  train: RegionWindows;
  val: RegionWindows;
  /** [n, n] row-normalised with self-loops. */
  adjacency: Float32Array;
  n: number;
  norm: Normalizer;
}

/** Per-city state shared by all of its regions (computed once per city per process). */
export interface CityPrep {
  split: SourceSplit;
  /** The encoding fitted on the whole training part. */
  norm: Normalizer;
  ha: HistoricalAverage;
  /** With encodingFitDays: encodings fitted on sliding K-day blocks, each forecasting its next day (data/fit-blocks.ts). */
  blocks?: EncodingBlock[];
}

/**
 * `baseline`: the value encoding the city's models see (data/baseline.ts), fitted on the training part,
 * or with `encodingFitDays` on sliding blocks of that many days (the target's regime).
 */
export function prepareCity(city: City, feature: number, baseline: BaselineKind, encodingFitDays?: number): CityPrep {
  const split = sourceSplit(city);
  const prep: CityPrep = { split, norm: fitValueEncoding(city, split.train, feature, baseline), ha: fitHistoricalAverage(city, split.train, feature) };
  if (encodingFitDays !== undefined) prep.blocks = encodingBlocks(city, split, feature, baseline, encodingFitDays);
  return prep;
}

/** `sub`: the region's subgraph when the caller has it (a region slice, bank/region-slice.ts, carries its own). */
export function regionDataset(city: City, prep: CityPrep, region: number, stride = 1, sub: RegionSubgraph = regionSubgraph(city, region)): RegionDataset {
  return {
    train: regionWindows(city, sub, prep.split.train, prep.norm, { stride }),
    val: regionWindows(city, sub, prep.split.val, prep.norm, { stride }),
    adjacency: sub.adjacency,
    n: sub.n,
    norm: prep.norm,
  };
}

/** No windows (a block whose forecast day lies wholly on one side of the split). */
function emptyWindows(n: number): RegionWindows {
  return { count: 0, n, x: new Float32Array(0), y: new Float32Array(0), yOffset: new Float32Array(0), yMask: new Uint8Array(0), yRaw: new Float32Array(0), starts: new Int32Array(0) };
}

/**
 * A region's training data: one dataset over the whole split, or with blocks one per block (each
 * with its own encoding); fitForecaster pools them.
 */
export function regionDatasets(city: City, prep: CityPrep, region: number, stride = 1, sub: RegionSubgraph = regionSubgraph(city, region)): RegionDataset[] {
  if (!prep.blocks) return [regionDataset(city, prep, region, stride, sub)];
  const windows = (r: StepRange | undefined, b: EncodingBlock) =>
    r ? regionWindows(city, sub, r, b.norm, { stride, historyStart: Math.max(b.fit.start, r.start - IN_STEPS) }) : emptyWindows(sub.n);
  return prep.blocks.map((b) => ({ train: windows(b.train, b), val: windows(b.val, b), adjacency: sub.adjacency, n: sub.n, norm: b.norm }));
}
