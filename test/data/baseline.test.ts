import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitValueEncoding, halfWindowSlots, checkBaselineKind } from '../../src/data/baseline.js';
import { fitNormalizer } from '../../src/data/normalize.js';
import { fitTimeProfile, profileAt } from '../../src/data/time-profile.js';
import { regionWindows } from '../../src/data/windows.js';
import { regionSubgraph } from '../../src/data/subgraph.js';
import { DataError, type City } from '../../src/data/city.js';
import { Rng } from '../../src/util/prng.js';
import { tinyCity } from './tiny-city.js';
import { initBackend } from '../../src/runtime/backend.js';
import { IN_STEPS, IN_FEATURES, OUT_STEPS } from '../../src/data/task.js';
import { createForecaster } from '../../src/models/registry.js';
import { predictWindows } from '../../src/train/predict.js';

/**
 * Hourly city: value = level(node) + amplitude * sin(daily phase) + d, where d is AR(1) with
 * coefficient rho per step, so the deviation from the profile persists as rho^h.
 */
function arCity(rho: number, days = 60, N = 4, seed = 3): City {
  const spd = 24;
  const T = days * spd;
  const rng = new Rng(seed);
  const series = new Float32Array(T * N);
  for (let n = 0; n < N; n++) {
    let d = 0;
    for (let t = 0; t < T; t++) {
      d = rho * d + rng.normal();
      series[t * N + n] = 20 + 5 * n + 8 * Math.sin((2 * Math.PI * (t % spd)) / spd) + d;
    }
  }
  const adjacency = new Float32Array(N * N);
  for (let n = 0; n + 1 < N; n++) adjacency[n * N + n + 1] = 1;
  return { id: 'ar', intervalMinutes: 60, nodeIds: Array.from({ length: N }, (_, i) => `n${i}`), T, N, F: 1, series, adjacency, attributes: {} };
}

test('none is the plain normaliser; the kinds are checked by name', () => {
  const city = tinyCity({ T: 100 });
  assert.deepEqual(fitValueEncoding(city, { start: 0, end: 80 }, 0, 'none'), fitNormalizer(city, { start: 0, end: 80 }, 0));
  assert.throws(() => checkBaselineKind('weekly'), /unknown baseline "weekly" \(expected none, seasonal, seasonal-ar\)/);
});

test('pooling window: +-1 hour, at least one slot, within the day', () => {
  assert.equal(halfWindowSlots({ intervalMinutes: 5 }), 12);
  assert.equal(halfWindowSlots({ intervalMinutes: 15 }), 4);
  assert.equal(halfWindowSlots({ intervalMinutes: 60 }), 1);
  assert.equal(halfWindowSlots({ intervalMinutes: 120 }), 1);
  assert.equal(halfWindowSlots({ intervalMinutes: 720 }), 0); // 2 slots a day: no neighbour fits
});

test('persistence recovers the AR coefficient of the deviations (rho^h, clamped at 0)', () => {
  const city = arCity(0.8);
  const ar = fitValueEncoding(city, { start: 0, end: city.T }, 0, 'seasonal-ar');
  const lam = ar.baseline!.persistence;
  // 60 days x 4 nodes of AR(1): the least-squares slopes are within 0.05 of 0.8^h (measured 0.009-0.029 below).
  lam.forEach((l, h) => assert.ok(Math.abs(l - 0.8 ** (h + 1)) < 0.05, `lambda_${h + 1} = ${l}`));
  // Pooling +-1 hour keeps (1 + 2 cos 15deg) / 3 = 98% of the daily sine, so the deviations are the
  // AR(1) part: std near 1 / sqrt(1 - 0.64) = 1.67 (measured 1.62), not the sine's 5.7.
  assert.ok(ar.std > 1.5 && ar.std < 1.8, `std ${ar.std}`);
  const plain = fitValueEncoding(city, { start: 0, end: city.T }, 0, 'seasonal');
  assert.deepEqual(plain.baseline!.persistence, [0, 0, 0, 0, 0, 0]);
  // White-noise deviations: slopes near 0 (measured at most 0.036), never negative.
  const noise = fitValueEncoding(arCity(0), { start: 0, end: city.T }, 0, 'seasonal-ar').baseline!.persistence;
  noise.forEach((l) => assert.ok(l >= 0 && l < 0.05, `noise lambda ${l}`));
});

test('windows: inputs are deviations from the profile; y * std + yOffset is the raw target; yOffset is the baseline forecast', () => {
  const city = arCity(0.8, 20);
  const fit = { start: 0, end: 10 * 24 };
  const norm = fitValueEncoding(city, fit, 0, 'seasonal-ar');
  const profile = fitTimeProfile(city, fit, 0, 1);
  const sub = regionSubgraph(city, 2);
  const w = regionWindows(city, sub, { start: 10 * 24, end: 20 * 24 }, norm);
  const lam = norm.baseline!.persistence;
  const v = (t: number, node: number) => city.series[t * city.N + node]!;
  const z = (t: number, node: number) => (v(t, node) - profileAt(profile, city, t, node) - norm.mean) / norm.std;
  let maxIn = 0;
  let maxOffset = 0;
  let maxIdentity = 0;
  for (let k = 0; k < w.count; k++) {
    const t0 = w.starts[k]!;
    for (let a = 0; a < sub.n; a++) {
      for (let s = 0; s < IN_STEPS; s++) maxIn = Math.max(maxIn, Math.abs(w.x[((k * sub.n + a) * IN_STEPS + s) * IN_FEATURES]! - z(t0 + s, sub.nodes[a]!)));
    }
    const last = z(t0 + IN_STEPS - 1, 2);
    for (let h = 0; h < OUT_STEPS; h++) {
      const t = t0 + IN_STEPS + h;
      const i = k * OUT_STEPS + h;
      const expected = profileAt(profile, city, t, 2) + norm.mean + lam[h]! * last * norm.std;
      maxOffset = Math.max(maxOffset, Math.abs(w.yOffset[i]! - expected));
      maxIdentity = Math.max(maxIdentity, Math.abs(w.y[i]! * norm.std + w.yOffset[i]! - w.yRaw[i]!));
    }
  }
  // float32 storage of values around 20-40: errors of a few 1e-6 relative.
  assert.ok(maxIn < 1e-4, `inputs ${maxIn}`);
  assert.ok(maxOffset < 1e-4, `yOffset ${maxOffset}`);
  assert.ok(maxIdentity < 1e-4, `identity ${maxIdentity}`);
  // The baseline forecast beats the profile alone on AR data at horizon 1 (it carries the deviation).
  let eBase = 0;
  let eProfile = 0;
  for (let k = 0; k < w.count; k++) {
    const t = w.starts[k]! + IN_STEPS;
    eBase += Math.abs(w.yOffset[k * OUT_STEPS]! - w.yRaw[k * OUT_STEPS]!);
    eProfile += Math.abs(profileAt(profile, city, t, 2) + norm.mean - w.yRaw[k * OUT_STEPS]!);
  }
  assert.ok(eBase < 0.8 * eProfile, `baseline ${eBase / w.count} vs profile ${eProfile / w.count}`);
});

test('without a baseline yOffset is the mean; a missing last input drops the persistence term', () => {
  const plainCity = tinyCity({ T: 100 });
  const plain = regionWindows(plainCity, regionSubgraph(plainCity, 1), { start: 10, end: 40 }, fitNormalizer(plainCity, { start: 0, end: 80 }));
  const mean = fitNormalizer(plainCity, { start: 0, end: 80 }).mean;
  assert.ok(plain.yOffset.every((o) => Math.abs(o - mean) < 1e-4));

  const city = arCity(0.8, 12, 3);
  city.mask = new Uint8Array(city.T * city.N).fill(1);
  const fit = { start: 0, end: 8 * 24 };
  const norm = fitValueEncoding(city, fit, 0, 'seasonal-ar');
  const profile = fitTimeProfile(city, fit, 0, 1);
  const start = 8 * 24;
  city.mask[(start + IN_STEPS - 1) * city.N + 1] = 0; // the centre's last input of the first window
  const w = regionWindows(city, regionSubgraph(city, 1), { start, end: start + 30 }, norm);
  for (let h = 0; h < OUT_STEPS; h++) {
    const expected = profileAt(profile, city, start + IN_STEPS + h, 1) + norm.mean;
    assert.ok(Math.abs(w.yOffset[h]! - expected) < 1e-4, `h${h + 1}: ${w.yOffset[h]} vs ${expected}`);
  }
});

test('a baseline fitted on one city is refused on another', () => {
  const a = arCity(0.5, 10);
  const b = { ...arCity(0.5, 10), id: 'other' };
  const norm = fitValueEncoding(a, { start: 0, end: 5 * 24 }, 0, 'seasonal');
  assert.throws(() => regionWindows(b, regionSubgraph(b, 0), { start: 5 * 24, end: 6 * 24 }, norm), (e: unknown) => e instanceof DataError && /baseline was fitted on city ar/.test((e as Error).message));
});

test('a network that outputs zero forecasts the baseline: the all-zero STGCN predicts yOffset exactly', async () => {
  await initBackend();
  const city = arCity(0.8, 12);
  const norm = fitValueEncoding(city, { start: 0, end: 8 * 24 }, 0, 'seasonal-ar');
  const sub = regionSubgraph(city, 1);
  const w = regionWindows(city, sub, { start: 8 * 24, end: 12 * 24 }, norm);
  const model = createForecaster('stgcn');
  const pred = predictWindows(model, new Float32Array(model.layout.size), sub.adjacency, sub.n, w, norm);
  assert.deepEqual(pred, w.yOffset);
});
