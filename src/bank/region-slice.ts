/**
 * A region's data cut down to what its job reads: the nodes of its subgraph (centre first), the one
 * channel it forecasts, every step, and its city's fitted encoding restricted to those nodes. A job
 * then carries kilobytes to megabytes instead of its whole city, whether it goes to a worker thread
 * or through Redis to another machine (src/cluster/).
 *
 * The slice reproduces the whole city's windows exactly (test/bank/region-slice.test.ts): every
 * value the windows read (series, mask, clock, profile and historical-average tables) is copied, not
 * recomputed, and the subgraph's adjacency travels as computed on the whole city (its self-loop
 * weight is the city's strongest edge, which the slice alone could not know).
 */
import type { City } from '../data/city.js';
import type { Normalizer } from '../data/encoding.js';
import type { TimeProfile } from '../data/time-profile.js';
import { regionSubgraph, type RegionSubgraph } from '../data/subgraph.js';
import type { HistoricalAverage } from '../baselines/historical-average.js';
import type { CityPrep } from '../train/dataset.js';

/**
 * One region's data: `city` (a slice, or the whole city) holds its centre at index `node`, `sub` is
 * its subgraph in `city`'s indices, `prep` the fitted encoding for `city`'s nodes. `region` and
 * `regionId` name it in its whole city (seeds and results use them).
 */
export interface RegionData<P> {
  city: City;
  prep: P;
  sub: RegionSubgraph;
  node: number;
  region: number;
  regionId: string;
}

/** The whole city as a region's data (no copy). */
export function wholeCityRegion<P>(city: City, prep: P, region: number): RegionData<P> {
  return { city, prep, sub: regionSubgraph(city, region), node: region, region, regionId: city.nodeIds[region] ?? String(region) };
}

/** `city` restricted to `nodes` (in that order) and channel `feature` (channel 0 of the slice). */
export function sliceCity(city: City, nodes: number[], feature: number): City {
  const { N, F, T } = city;
  const n = nodes.length;
  const series = new Float32Array(T * n);
  const mask = city.mask ? new Uint8Array(T * n) : undefined;
  for (let t = 0; t < T; t++) {
    for (let a = 0; a < n; a++) {
      const i = (t * N + nodes[a]!) * F + feature;
      series[t * n + a] = city.series[i]!;
      if (mask) mask[t * n + a] = city.mask![i]!;
    }
  }
  const adjacency = new Float32Array(n * n);
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) adjacency[a * n + b] = city.adjacency[nodes[a]! * N + nodes[b]!]!;
  const slice: City = {
    id: city.id,
    intervalMinutes: city.intervalMinutes,
    nodeIds: nodes.map((i) => city.nodeIds[i] ?? String(i)),
    T,
    N: n,
    F: 1,
    series,
    adjacency,
    attributes: {},
  };
  if (city.day) slice.day = { ...city.day };
  if (mask) slice.mask = mask;
  if (city.timestamps) slice.timestamps = city.timestamps;
  if (city.units !== undefined) slice.units = city.units;
  const name = city.featureNames?.[feature];
  if (name !== undefined) slice.featureNames = [name];
  return slice;
}

/** Columns `nodes` of a [rows, N] table. */
function sliceTable(table: Float64Array, N: number, nodes: number[]): Float64Array {
  const rows = table.length / N;
  const out = new Float64Array(rows * nodes.length);
  for (let r = 0; r < rows; r++) for (let a = 0; a < nodes.length; a++) out[r * nodes.length + a] = table[r * N + nodes[a]!]!;
  return out;
}

function sliceProfile(p: TimeProfile, nodes: number[]): TimeProfile {
  return { slotsPerDay: p.slotsPerDay, N: nodes.length, halfWindowSlots: p.halfWindowSlots, table: sliceTable(p.table, p.N, nodes) };
}

/** The encoding for the slice's nodes; the channel becomes the slice's only one (0). */
export function sliceNormalizer(norm: Normalizer, nodes: number[]): Normalizer {
  const out: Normalizer = { feature: 0, mean: norm.mean, std: norm.std };
  if (norm.baseline) out.baseline = { ...norm.baseline, profile: sliceProfile(norm.baseline.profile, nodes), persistence: [...norm.baseline.persistence] };
  return out;
}

export function sliceHistoricalAverage(ha: HistoricalAverage, nodes: number[]): HistoricalAverage {
  return { cityId: ha.cityId, feature: 0, slotsPerDay: ha.slotsPerDay, N: nodes.length, fit: { ...ha.fit }, table: sliceTable(ha.table, ha.N, nodes) };
}

/** The subgraph of a slice: the same adjacency, nodes renumbered 0..n-1 (centre 0). */
function slicedSubgraph(sub: RegionSubgraph): RegionSubgraph {
  return { center: 0, nodes: sub.nodes.map((_, a) => a), n: sub.n, adjacency: sub.adjacency };
}

/**
 * A region's data as a slice: `prep` is the whole city's fitted state, `slicePrep` cuts it to the
 * subgraph's nodes (sliceCityPrep for a source city; the transfer layer has the target's).
 */
export function sliceRegion<P extends { norm: Normalizer }>(city: City, prep: P, region: number, slicePrep: (prep: P, nodes: number[], city: City) => P): RegionData<P> {
  const sub = regionSubgraph(city, region);
  const sliced = sliceCity(city, sub.nodes, prep.norm.feature);
  return {
    city: sliced,
    prep: slicePrep(prep, sub.nodes, sliced),
    sub: slicedSubgraph(sub),
    node: 0,
    region,
    regionId: city.nodeIds[region] ?? String(region),
  };
}

/** A source city's prep (bank/build.ts) for the slice's nodes. */
export function sliceCityPrep(prep: CityPrep, nodes: number[]): CityPrep {
  const out: CityPrep = { split: { train: { ...prep.split.train }, val: { ...prep.split.val } }, norm: sliceNormalizer(prep.norm, nodes), ha: sliceHistoricalAverage(prep.ha, nodes) };
  if (prep.blocks) {
    out.blocks = prep.blocks.map((b) => {
      const block: NonNullable<CityPrep['blocks']>[number] = { fit: { ...b.fit }, norm: sliceNormalizer(b.norm, nodes) };
      if (b.train) block.train = { ...b.train };
      if (b.val) block.val = { ...b.val };
      return block;
    });
  }
  return out;
}
