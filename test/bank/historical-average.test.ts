import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { City } from '../../src/data/city.js';
import { fitHistoricalAverage, historicalAverageForecast, timeSlot } from '../../src/baselines/historical-average.js';

// 8 steps per day (3-hour interval), 8 days, 2 nodes: value = 10*slot + day + 100*node.
function tinyCity(withTimestamps = false): City {
  const N = 2;
  const T = 64;
  const series = new Float32Array(T * N);
  const mask = new Uint8Array(T * N).fill(1);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) series[t * N + n] = 10 * (t % 8) + Math.floor(t / 8) + 100 * n;
  // Node 1, day 0, slot 3 missing (its stored value is garbage and must be ignored).
  mask[3 * N + 1] = 0;
  series[3 * N + 1] = 9999;
  // Node 0 never observed at slot 5 during the fit days 0..5: falls back to its mean over the fit period.
  for (let d = 0; d < 6; d++) mask[(d * 8 + 5) * N + 0] = 0;
  const city: City = { id: 'tiny', intervalMinutes: 180, nodeIds: ['a', 'b'], T, N, F: 1, series, mask, adjacency: new Float32Array(N * N), attributes: {} };
  // Timestamps starting at midnight UTC give the same slots as the step index.
  if (withTimestamps) city.timestamps = Float64Array.from({ length: T }, (_, t) => Date.UTC(2024, 0, 1) + t * 3 * 3600_000);
  return city;
}

test('historical average: per node and time-of-day mean of the fit period, masked values ignored', () => {
  const city = tinyCity();
  const ha = fitHistoricalAverage(city, { start: 0, end: 48 });
  assert.equal(ha.slotsPerDay, 8);
  // Slot 2, node 0: days 0..5 -> 20 + mean(0..5) = 22.5
  assert.equal(ha.table[2 * 2 + 0], 22.5);
  // Slot 3, node 1: day 0 missing -> 130 + mean(1..5) = 133
  assert.equal(ha.table[3 * 2 + 1], 133);
  // Slot 5, node 0 never observed: node 0's mean over its observed fit values.
  let s = 0;
  let k = 0;
  for (let t = 0; t < 48; t++) if (t % 8 !== 5) { s += 10 * (t % 8) + Math.floor(t / 8); k++; }
  assert.ok(Math.abs(ha.table[5 * 2 + 0]! - s / k) < 1e-9);

  // Window starting at step 40: targets at steps 52..57 (slots 4,5,6,7,0,1).
  const pred = historicalAverageForecast(ha, city, 1, Int32Array.from([40]));
  assert.deepEqual(Array.from(pred), [4, 5, 6, 7, 0, 1].map((slot) => 100 + 10 * slot + 2.5));
});

test('historical average: timestamps give the same slots; later data does not change the fit', () => {
  const a = tinyCity();
  const b = tinyCity(true);
  assert.equal(timeSlot(b, 13), 5);
  const ha = fitHistoricalAverage(a, { start: 0, end: 48 });
  assert.deepEqual(fitHistoricalAverage(b, { start: 0, end: 48 }).table, ha.table);
  for (let i = 48 * 2; i < a.series.length; i++) a.series[i] = -1;
  assert.deepEqual(fitHistoricalAverage(a, { start: 0, end: 48 }).table, ha.table);
});

test('historical average: errors name the city and the problem', () => {
  const city = tinyCity();
  const ha = fitHistoricalAverage(city, { start: 0, end: 48 });
  assert.throws(() => historicalAverageForecast(ha, city, 5, Int32Array.from([0])), /tiny: node 5 does not exist/);
  assert.throws(() => historicalAverageForecast(ha, city, 0, Int32Array.from([50])), /tiny: window starting at step 50 needs step 62|beyond T/);
  assert.throws(() => fitHistoricalAverage(city, { start: 0, end: 48 }, 3), /tiny: feature 3 does not exist/);
  city.mask!.fill(0);
  assert.throws(() => fitHistoricalAverage(city, { start: 0, end: 8 }), /tiny: no observed values/);
});
