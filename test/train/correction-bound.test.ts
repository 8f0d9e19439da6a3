/**
 * The correction bound (train/correction-bound.ts): the range is the few-shot days' observed
 * corrections, forecasts are clamped to it exactly, and on a city whose test period leaves the
 * few-shot regime an oversized network's forecasts are pulled back (the metro-chongqing failure, where
 * a fine-tuned model forecast negative passenger counts on a third of the test windows).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { City } from '../../src/data/city.js';
import type { RegionWindows } from '../../src/data/windows.js';
import { initBackend } from '../../src/runtime/backend.js';
import { prepareTarget, targetRegion } from '../../src/train/target.js';
import { createForecaster } from '../../src/models/registry.js';
import { predictWindows } from '../../src/train/predict.js';
import { boundForecasts, fewShotCorrectionRange } from '../../src/train/correction-bound.js';
import { maskedMetrics } from '../../src/metrics/metrics.js';
import { Rng } from '../../src/util/prng.js';

await initBackend();

const windows = (y: number[], mask: number[]): RegionWindows =>
  ({ count: y.length / 6, n: 1, x: new Float32Array(0), y: Float32Array.from(y), yOffset: new Float32Array(y.length), yMask: Uint8Array.from(mask), yRaw: new Float32Array(y.length), starts: new Int32Array(0) }) as RegionWindows;

test('the range spans the observed few-shot targets and 0, ignores missing ones, and is null when nothing was observed', () => {
  const train = windows([0.5, 1, 2, -9, 0.2, 0.1], [1, 1, 1, 0, 1, 1]);
  const val = windows([3, 0.4, 0.3, 0.2, 0.1, 0.6], [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(fewShotCorrectionRange({ train, val }), { lo: 0, hi: 3 });
  const negative = windows([-1, -2, -0.5, -0.5, -0.5, -0.5], [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(fewShotCorrectionRange({ train: negative, val: windows([], []) }), { lo: -2, hi: 0 });
  assert.equal(fewShotCorrectionRange({ train: windows([5, 5, 5, 5, 5, 5], [0, 0, 0, 0, 0, 0]), val: windows([], []) }), null);
});

test('forecasts are clamped to yOffset + factor * range * std, and left alone inside it or with factor 0', () => {
  const pred = Float32Array.from([100, 130, 60, 115]);
  const w = { yOffset: Float32Array.from([100, 100, 100, 110]) };
  const range = { lo: -1, hi: 2 };
  // std 10, factor 1: [90, 120] around 100, [100, 130] around 110.
  assert.deepEqual(Array.from(boundForecasts(pred, w, 10, range, 1)), [100, 120, 90, 115]);
  // factor 1.5: [85, 130] around 100.
  assert.deepEqual(Array.from(boundForecasts(pred, w, 10, range, 1.5)), [100, 130, 85, 115]);
  const off = boundForecasts(pred, w, 10, range, 0);
  assert.deepEqual(Array.from(off), Array.from(pred));
  assert.notEqual(off, pred, 'a copy');
  assert.deepEqual(Array.from(boundForecasts(pred, w, 10, null, 1)), Array.from(pred));
});

/** Hourly, 14 days: a daily profile plus noise; the last 30% (the test period) at three times the level. */
function shiftedCity(seed: number): City {
  const N = 4;
  const T = 14 * 24;
  const rng = new Rng(seed);
  const series = new Float32Array(T * N);
  const testStart = Math.floor(0.7 * T);
  for (let t = 0; t < T; t++) {
    const level = t >= testStart ? 3 : 1;
    for (let n = 0; n < N; n++) series[t * N + n] = level * (100 + 60 * Math.sin((2 * Math.PI * (t % 24)) / 24)) + 10 * rng.normal();
  }
  const adjacency = new Float32Array(N * N);
  for (let n = 0; n + 1 < N; n++) adjacency[n * N + n + 1] = adjacency[(n + 1) * N + n] = 1;
  return { id: 'shifted', intervalMinutes: 60, nodeIds: Array.from({ length: N }, (_, i) => `n${i}`), T, N, F: 1, series, adjacency, attributes: {} };
}

test('on a test period outside the few-shot regime, an oversized network is pulled back toward the baseline', () => {
  const model = createForecaster('stgcn');
  const city = shiftedCity(3);
  const prep = prepareTarget(city, 3, 0, 'seasonal-ar', 'days');
  let unbounded = 0;
  let bounded = 0;
  for (let r = 0; r < city.N; r++) {
    const t = targetRegion(prep, r);
    // A correction far larger than any the few-shot days show (a random init with its output layer x50).
    const params = model.layout.init(new Rng(5).fork(`init${r}`));
    model.layout.view(params, model.outputLayer).forEach((v, i, a) => (a[i] = v * 50));
    const raw = predictWindows(model, params, t.dataset.adjacency, t.dataset.n, t.test, t.dataset.norm);
    const range = fewShotCorrectionRange(t.dataset)!;
    const out = boundForecasts(raw, t.test, t.dataset.norm.std, range, 1);
    for (let i = 0; i < out.length; i++) {
      const z = (out[i]! - t.test.yOffset[i]!) / t.dataset.norm.std;
      assert.ok(z >= range.lo - 1e-3 && z <= range.hi + 1e-3, `region ${r} step ${i}: correction ${z} outside [${range.lo}, ${range.hi}]`);
    }
    unbounded += maskedMetrics(raw, t.test.yRaw, t.test.yMask, 6).maeMean;
    bounded += maskedMetrics(out, t.test.yRaw, t.test.yMask, 6).maeMean;
  }
  // Measured: bounded / unbounded = 0.653.
  assert.ok(bounded / unbounded < 0.8, `bounded ${bounded} vs unbounded ${unbounded}`);
});
