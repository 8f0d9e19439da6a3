import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskedMetrics, MetricsAccumulator } from '../../src/metrics/metrics.js';
import { Rng } from '../../src/util/prng.js';

const near = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('per-horizon MAE / RMSE / MAPE by hand, with a mask and a zero truth', () => {
  // 3 windows x 2 horizons.
  const pred = new Float32Array([1, 4, 3, 0, 5, 10]);
  const truth = new Float32Array([2, 2, 0, 4, 5, 6]);
  const mask = new Uint8Array([1, 1, 1, 1, 0, 1]);
  const m = maskedMetrics(pred, truth, mask, 2);
  // h0: errors 1, 3 (window 2 masked) -> MAE 2, RMSE sqrt(5), MAPE only truth>0: |1|/2 = 0.5
  // h1: errors 2, 4, 4 -> MAE 10/3, RMSE sqrt(36/3) = sqrt(12), MAPE (2/2 + 4/4 + 4/6)/3
  assert.deepEqual(m.count, [2, 3]);
  near(m.mae[0]!, 2);
  near(m.mae[1]!, 10 / 3);
  near(m.rmse[0]!, Math.sqrt(5));
  near(m.rmse[1]!, Math.sqrt(12));
  near(m.mape[0]!, 0.5);
  near(m.mape[1]!, (1 + 1 + 4 / 6) / 3);
  near(m.maeMean, (2 + 10 / 3) / 2);
  near(m.rmseMean, (Math.sqrt(5) + Math.sqrt(12)) / 2);
  near(m.mapeMean, (0.5 + (1 + 1 + 4 / 6) / 3) / 2);
  // Without a mask, window 2 counts: h0 errors 1, 3, 0.
  const all = maskedMetrics(pred, truth, undefined, 2);
  near(all.mae[0]!, 4 / 3);
});

test('a horizon with no observed entry is NaN and the means skip it; all masked gives NaN means', () => {
  const m = maskedMetrics(new Float32Array([1, 2, 3, 4]), new Float32Array([1, 1, 1, 1]), new Uint8Array([1, 0, 1, 0]), 2);
  assert.ok(Number.isNaN(m.mae[1]!));
  assert.ok(Number.isNaN(m.rmse[1]!));
  assert.equal(m.count[1], 0);
  near(m.maeMean, 1);
  const none = maskedMetrics(new Float32Array([1, 2]), new Float32Array([0, 0]), new Uint8Array([0, 0]), 2);
  assert.ok(Number.isNaN(none.maeMean) && Number.isNaN(none.rmseMean) && Number.isNaN(none.mapeMean));
  // All-zero truths: MAE defined, MAPE NaN.
  const zeros = maskedMetrics(new Float32Array([1, 2]), new Float32Array([0, 0]), undefined, 2);
  near(zeros.maeMean, 1.5);
  assert.ok(Number.isNaN(zeros.mapeMean));
});

test('the accumulator over chunks equals maskedMetrics over the concatenation', () => {
  const rng = new Rng(11);
  const W = 500;
  const H = 6;
  const pred = rng.uniformArray(W * H, 0, 50);
  const truth = new Float32Array(W * H);
  const mask = new Uint8Array(W * H);
  for (let i = 0; i < W * H; i++) {
    truth[i] = rng.uniform() < 0.1 ? 0 : rng.range(0, 50);
    mask[i] = rng.uniform() < 0.15 ? 0 : 1;
  }
  const whole = maskedMetrics(pred, truth, mask, H);
  const acc = new MetricsAccumulator(H);
  for (const [a, b] of [[0, 7], [7, 7], [7, 250], [250, 499], [499, 500]] as const) {
    acc.add(pred.subarray(a * H, b * H), truth.subarray(a * H, b * H), mask.subarray(a * H, b * H));
  }
  const streamed = acc.result();
  assert.deepEqual(streamed.count, whole.count);
  for (const k of ['mae', 'rmse', 'mape'] as const) for (let h = 0; h < H; h++) near(streamed[k][h]!, whole[k][h]!, 1e-9);
  near(streamed.maeMean, whole.maeMean, 1e-9);
  // Sanity against a direct recomputation of one horizon.
  let s = 0;
  let n = 0;
  for (let w = 0; w < W; w++) if (mask[w * H + 3]) { s += Math.abs(pred[w * H + 3]! - truth[w * H + 3]!); n++; }
  near(whole.mae[3]!, s / n, 1e-9);
});

test('shape mismatches are errors', () => {
  assert.throws(() => maskedMetrics(new Float32Array(6), new Float32Array(5), undefined, 6), /pred has 6 values but truth has 5/);
  assert.throws(() => maskedMetrics(new Float32Array(5), new Float32Array(5), undefined, 6), /not a multiple of 6/);
  assert.throws(() => maskedMetrics(new Float32Array(6), new Float32Array(6), new Uint8Array(5), 6), /mask has 5/);
  assert.throws(() => new MetricsAccumulator(0), /horizons/);
});
