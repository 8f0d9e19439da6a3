import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSyntheticCities, LANDUSE_TYPES } from '../../src/data/synthetic.js';
import { DataError } from '../../src/data/city.js';
import { sourceSplit, targetSplit } from '../../src/data/splits.js';
import { landUseR2, neighbourVsOtherCorrelation, weekendDifference } from './synthetic-stats.js';

const cities = generateSyntheticCities({ seed: 7 });

test('defaults: 4 cities x 24 regions x 14 days at 30 min, well-formed and positive', () => {
  assert.deepEqual(cities.map((c) => c.id), ['synth-a', 'synth-b', 'synth-c', 'synth-d']);
  for (const c of cities) {
    assert.equal(c.N, 24);
    assert.equal(c.T, 14 * 48);
    assert.equal(c.F, 1);
    assert.equal(c.series.length, c.T * c.N);
    assert.equal(c.adjacency.length, c.N * c.N);
    assert.equal(c.timestamps!.length, c.T);
    assert.equal(new Date(c.timestamps![0]!).getUTCDay(), 1); // starts on a Monday
    const lu = c.attributes.embeddings!['landuse']!;
    assert.equal(lu.dim, LANDUSE_TYPES.length);
    const poi = c.attributes.categories!['poi']!;
    for (let i = 0; i < c.N; i++) {
      let s = 0;
      let best = 0;
      for (let k = 0; k < lu.dim; k++) {
        s += lu.data[i * lu.dim + k]!;
        if (lu.data[i * lu.dim + k]! > lu.data[i * lu.dim + best]!) best = k;
      }
      assert.ok(Math.abs(s - 1) < 1e-5);
      assert.equal(poi[i], best);
      let degree = 0;
      for (let j = 0; j < c.N; j++) {
        assert.equal(c.adjacency[i * c.N + j], c.adjacency[j * c.N + i]);
        if (c.adjacency[i * c.N + j]! > 0) degree++;
      }
      assert.ok(degree >= 4, `node ${i} has degree ${degree}`);
    }
    for (const v of c.series) assert.ok(Number.isFinite(v) && v >= 0);
    // Enough data for the protocol's splits with K = 1, 3 and 7 (test starts at step 470).
    sourceSplit(c);
    for (const k of [1, 3, 7]) assert.equal(targetSplit(c, k).fewShot.start, 470 - k * 48);
  }
  // Cities differ in level (measured city means 9.9-33.1 for seed 7).
  const means = cities.map((c) => c.series.reduce((a, b) => a + b, 0) / c.series.length);
  assert.ok(Math.max(...means) / Math.min(...means) > 1.5, `city means ${means}`);
});

test('deterministic per seed; different seeds differ; a city does not depend on how many follow it', () => {
  const again = generateSyntheticCities({ seed: 7 });
  assert.deepEqual(again, cities);
  const other = generateSyntheticCities({ seed: 8 });
  assert.notDeepEqual(other[0]!.series, cities[0]!.series);
  assert.notDeepEqual(other[0]!.attributes.coords, cities[0]!.attributes.coords);
  const two = generateSyntheticCities({ seed: 7, cities: 2 });
  assert.deepEqual(two, cities.slice(0, 2));
});

test('options: per-city node counts, days, interval; bad options are DataErrors', () => {
  const cs = generateSyntheticCities({ seed: 3, cities: 3, nodes: [10, 30, 5], days: 3, intervalMinutes: 60 });
  assert.deepEqual(cs.map((c) => [c.N, c.T, c.intervalMinutes]), [[10, 72, 60], [30, 72, 60], [5, 72, 60]]);
  assert.throws(() => generateSyntheticCities({ seed: 1, cities: 2, nodes: [5] }), DataError);
  assert.throws(() => generateSyntheticCities({ seed: 1, intervalMinutes: 7 }), /divide a day/);
  assert.throws(() => generateSyntheticCities({ seed: 1, nodes: 1 }), /at least 2 nodes/);
  // noise: 0 still works and stays positive.
  for (const v of generateSyntheticCities({ seed: 1, cities: 1, noise: 0 })[0]!.series) assert.ok(v > 0);
});

test('land use explains the regions\' mean daily profiles', () => {
  // Measured R^2 for seed 7: 0.952, 0.957, 0.965, 0.961; over seeds 1,2,3,42,123 the minimum was 0.866.
  for (const c of cities) {
    const r2 = landUseR2(c);
    assert.ok(r2 > 0.85, `${c.id}: R^2 ${r2.toFixed(3)}`);
  }
});

test('weekend profiles differ from weekday profiles', () => {
  // Measured relative L1 difference for seed 7: 0.30, 0.31, 0.41, 0.31 (min over 6 seeds 0.216).
  for (const c of cities) {
    const d = weekendDifference(c);
    assert.ok(d > 0.2, `${c.id}: weekday/weekend difference ${d.toFixed(3)}`);
  }
});

test('neighbours\' non-seasonal fluctuations correlate more than non-adjacent pairs', () => {
  // Measured for seed 7 (neighbours vs others): 0.27/0.06, 0.31/0.10, 0.27/0.07, 0.28/0.08.
  for (const c of cities) {
    const { neighbours, others } = neighbourVsOtherCorrelation(c);
    assert.ok(neighbours > others + 0.12, `${c.id}: neighbours ${neighbours.toFixed(3)} vs others ${others.toFixed(3)}`);
  }
});
