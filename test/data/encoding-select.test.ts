/**
 * The seasonal encoding's pooling width and persistence, chosen by cross-validation over days
 * (data/encoding-select.ts), on series whose right answer is known.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { City } from '../../src/data/city.js';
import { chooseSeasonalEncoding, poolingCandidates } from '../../src/data/encoding-select.js';
import { fitValueEncoding } from '../../src/data/baseline.js';
import { fitTimeProfile } from '../../src/data/time-profile.js';
import { Rng } from '../../src/util/prng.js';

/** Hourly city, `days` days, N nodes: value = shape(hour) + AR(1) noise with coefficient phi. */
function city(days: number, N: number, shape: (hour: number) => number, phi: number, noise: number, seed = 1): City {
  const T = days * 24;
  const rng = new Rng(seed);
  const series = new Float32Array(T * N);
  for (let n = 0; n < N; n++) {
    let e = 0;
    for (let t = 0; t < T; t++) {
      e = phi * e + noise * rng.normal();
      series[t * N + n] = shape(t % 24) + e;
    }
  }
  return { id: 'cv', intervalMinutes: 60, nodeIds: Array.from({ length: N }, (_, i) => `n${i}`), T, N, F: 1, series, adjacency: new Float32Array(N * N), attributes: {} };
}

test('candidates are the pooling widths in slots that fit a day: hourly 0, 1, 2; 5-minute 0, 3, 6, 12, 24', () => {
  assert.deepEqual(poolingCandidates({ intervalMinutes: 60 }), [0, 1, 2]);
  assert.deepEqual(poolingCandidates({ intervalMinutes: 5 }), [0, 3, 6, 12, 24]);
  assert.deepEqual(poolingCandidates({ intervalMinutes: 60, day: { startMinutes: 360, steps: 3 } }), [0, 1]);
});

test('a peaky daily shape keeps the unpooled profile; a smooth one under noise is pooled', () => {
  // One-hour spikes (a metro's rush hours): pooling would flatten them.
  const peaky = city(3, 20, (h) => (h === 8 || h === 18 ? 100 : 5), 0, 2);
  const p = chooseSeasonalEncoding(peaky, { start: 0, end: peaky.T }, 0, false)!;
  assert.equal(p.halfWindowSlots, 0, JSON.stringify(p.scores));
  // A gentle sine with much reading noise: averaging neighbouring hours is worth more than the bias.
  const smooth = city(3, 20, (h) => 50 + 10 * Math.sin((2 * Math.PI * h) / 24), 0, 8);
  const s = chooseSeasonalEncoding(smooth, { start: 0, end: smooth.T }, 0, false)!;
  assert.ok(s.halfWindowSlots >= 1, JSON.stringify(s.scores));
  assert.equal(s.folds, 3);
});

test('persistence is fitted on cross-fitted deviations: near phi for AR(1) deviations, zero for white noise', () => {
  const ar = city(10, 30, (h) => 20 + h, 0.8, 3);
  const c = chooseSeasonalEncoding(ar, { start: 0, end: ar.T }, 0, true)!;
  assert.ok(Math.abs(c.persistence[0]! - 0.8) < 0.08, `lambda_1 ${c.persistence[0]}`);
  assert.ok(c.persistence[1]! < c.persistence[0]!, 'decays with the horizon');
  const white = city(10, 30, (h) => 20 + h, 0, 3);
  const w = chooseSeasonalEncoding(white, { start: 0, end: white.T }, 0, true)!;
  assert.ok(w.persistence.every((l) => l < 0.1), `lambda ${w.persistence}`);
});

test('fewer than two whole days: no choice (the default pooling and in-sample persistence stay)', () => {
  const one = city(1, 5, (h) => h, 0.5, 1);
  assert.equal(chooseSeasonalEncoding(one, { start: 0, end: one.T }, 0, true), null);
  const enc = fitValueEncoding(one, { start: 0, end: one.T }, 0, 'seasonal-ar');
  assert.equal(enc.baseline!.profile.halfWindowSlots, 1);
});

test('the encoding uses the chosen pooling: on the peaky city its profile is the historical average', () => {
  const peaky = city(3, 20, (h) => (h === 8 || h === 18 ? 100 : 5), 0, 2);
  const enc = fitValueEncoding(peaky, { start: 0, end: peaky.T }, 0, 'seasonal');
  const ha = fitTimeProfile(peaky, { start: 0, end: peaky.T }, 0, 0);
  assert.deepEqual(Array.from(enc.baseline!.profile.table), Array.from(ha.table));
  assert.deepEqual(enc.baseline!.persistence, [0, 0, 0, 0, 0, 0]);
});
