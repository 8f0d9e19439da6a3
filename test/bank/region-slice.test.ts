import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/runtime/backend.js';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import type { City } from '../../src/data/city.js';
import { prepareCity, regionDatasets, type RegionDataset } from '../../src/train/dataset.js';
import { createForecaster } from '../../src/models/registry.js';
import { sliceCityPrep, sliceRegion } from '../../src/bank/region-slice.js';
import { trainRegion, trainRegionJob } from '../../src/bank/region-job.js';

await initBackend();

/**
 * A city that exercises everything a slice must carry: two channels (the second is forecast), a
 * weighted graph whose strongest edge lies outside most subgraphs (the self-loop weight), missing
 * readings, timestamps.
 */
function awkwardCity(): City {
  const [base] = generateSyntheticCities({ seed: 31, cities: 1, nodes: 12, days: 6 });
  const c = base!;
  const { T, N } = c;
  const series = new Float32Array(T * N * 2);
  const mask = new Uint8Array(T * N * 2).fill(1);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      series[(t * N + n) * 2] = -1;
      series[(t * N + n) * 2 + 1] = c.series[t * N + n]!;
      if ((t * 7 + n * 3) % 23 === 0) mask[(t * N + n) * 2 + 1] = 0;
    }
  }
  const adjacency = c.adjacency.slice();
  // One edge far stronger than all others: the self-loop weight of every subgraph.
  adjacency[5 * N + 6] = 9;
  return { ...c, F: 2, series, mask, adjacency, featureNames: ['noise', 'flow'] };
}

const city = awkwardCity();

/** The windows and what reads the encoding downstream (its scale); the profile table is the slice's own. */
const comparable = (ds: RegionDataset[]) => ds.map((d) => ({ ...d, norm: { mean: d.norm.mean, std: d.norm.std, persistence: d.norm.baseline?.persistence } }));

for (const [baseline, fitDays] of [['none', undefined], ['seasonal-ar', undefined], ['seasonal-ar', 2]] as const) {
  test(`a region slice gives the whole city's windows exactly (baseline ${baseline}${fitDays ? `, ${fitDays}-day blocks` : ''})`, () => {
    const prep = prepareCity(city, 1, baseline, fitDays);
    let smaller = 0;
    for (let r = 0; r < city.N; r++) {
      const slice = sliceRegion(city, prep, r, sliceCityPrep);
      assert.equal(slice.city.N, slice.sub.n);
      if (slice.city.N < city.N) smaller++;
      assert.deepEqual(comparable(regionDatasets(slice.city, slice.prep, slice.node, 1, slice.sub)), comparable(regionDatasets(city, prep, r)), `region ${r}`);
    }
    assert.ok(smaller > city.N / 2, `${smaller} of ${city.N} slices hold fewer nodes than the city`);
  });
}

test('a region trained from its slice equals the same region trained on the whole city, bit for bit', async () => {
  const prep = prepareCity(city, 1, 'seasonal-ar');
  const ctx = { model: createForecaster('stgcn'), config: { epochs: 1, batchSize: 32, lr: 3e-3, weightDecay: 0, patience: 2 }, seed: 3, init: 'random' as const };
  const whole = await trainRegionJob({ ...ctx, city, prep }, 5);
  const sliced = await trainRegion(ctx, sliceRegion(city, prep, 5, sliceCityPrep));
  assert.deepEqual(sliced.params, whole.params);
  assert.deepEqual({ ...sliced, trainMs: 0, totalMs: 0 }, { ...whole, trainMs: 0, totalMs: 0 });
});
