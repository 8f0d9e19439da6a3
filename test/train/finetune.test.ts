/**
 * Fine-tuning cannot quietly make a model worse than its init (train/finetune.ts): the failure seen
 * on a metro city (plain early stopping on the last 20% of three days kept an epoch far worse on the
 * test period than the untrained init) reproduced on a small city whose few-shot days hold nothing to
 * learn beyond the seasonal baseline, and the default recipe (last-day holdout, guard) fixing it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { City } from '../../src/data/city.js';
import { initBackend } from '../../src/runtime/backend.js';
import { prepareTarget, targetRegion } from '../../src/train/target.js';
import { createForecaster } from '../../src/models/registry.js';
import { FinetuneConfig } from '../../src/train/config.js';
import { clearlyBetter, finetune } from '../../src/train/finetune.js';
import { predictWindows } from '../../src/train/predict.js';
import { maskedMetrics } from '../../src/metrics/metrics.js';
import { Rng } from '../../src/util/prng.js';

await initBackend();

/** Hourly, 12 days: a daily sine plus white noise growing with the node index (nothing to learn but the profile). */
function noiseCity(seed: number): City {
  const N = 5;
  const T = 12 * 24;
  const rng = new Rng(seed);
  const series = new Float32Array(T * N);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) series[t * N + n] = 100 + 50 * Math.sin((2 * Math.PI * (t % 24)) / 24) + 30 * (n + 1) * rng.normal();
  const adjacency = new Float32Array(N * N);
  for (let n = 0; n + 1 < N; n++) adjacency[n * N + n + 1] = adjacency[(n + 1) * N + n] = 1;
  return { id: 'noise', intervalMinutes: 60, nodeIds: Array.from({ length: N }, (_, i) => `n${i}`), T, N, F: 1, series, adjacency, attributes: {} };
}

const model = createForecaster('stgcn');

/** Test MAE of fine-tuning from random inits over every region, relative to the inits'. */
async function ratio(city: City, settings: Record<string, unknown>): Promise<number> {
  const cfg = FinetuneConfig.parse(settings);
  const prep = prepareTarget(city, 3, 0, 'seasonal-ar', cfg.holdout);
  let init = 0;
  let tuned = 0;
  for (let r = 0; r < city.N; r++) {
    const t = targetRegion(prep, r);
    const start = model.layout.init(new Rng(2).fork(`init${r}`));
    const res = await finetune(model, start, t.dataset, cfg, new Rng(2).fork(`ft${r}`));
    const mae = (p: Float32Array) => maskedMetrics(predictWindows(model, p, t.dataset.adjacency, t.dataset.n, t.test, t.dataset.norm), t.test.yRaw, t.test.yMask, 6).maeMean;
    init += mae(start);
    tuned += mae(res.params);
  }
  return tuned / init;
}

test('plain early stopping on the tail ends worse than the init; the last-day holdout with the guard stays within 1%', async () => {
  const city = noiseCity(2);
  const plain = await ratio(city, { holdout: 'tail', guard: 0 });
  const guarded = await ratio(city, {});
  // Measured: 1.062 and 1.002.
  assert.ok(plain > 1.03, `plain fine-tuning ${plain}`);
  assert.ok(guarded < 1.01, `default recipe ${guarded}`);
});

test('the guard counts overlapping windows as n / 6: a small consistent gain on 12 windows is not enough, on 120 it is', () => {
  const windows = (n: number, gain: number, noise: number) => {
    const rng = new Rng(n);
    const init = Float64Array.from({ length: n }, () => 1 + noise * rng.normal());
    return { init, fitted: init.map((v, k) => v - gain + noise * Math.sin(k)) };
  };
  const few = windows(12, 0.05, 0.1);
  const many = windows(120, 0.05, 0.1);
  assert.equal(clearlyBetter(few.init, few.fitted, 0), true);
  assert.equal(clearlyBetter(few.init, few.fitted, 1), false);
  assert.equal(clearlyBetter(many.init, many.fitted, 1), true);
  assert.equal(clearlyBetter(Float64Array.from([1, 2]), Float64Array.from([0, 1]), 1), false, 'under one effective window');
});

test('finetune.baselineGuard returns the seasonal baseline alone where the few-shot days hold nothing to learn', async () => {
  const city = noiseCity(2);
  const cfg = FinetuneConfig.parse({ baselineGuard: true });
  const prep = prepareTarget(city, 3, 0, 'seasonal-ar', cfg.holdout);
  let kept = 0;
  for (let r = 0; r < city.N; r++) {
    const t = targetRegion(prep, r);
    const start = model.layout.init(new Rng(2).fork(`init${r}`));
    const res = await finetune(model, start, t.dataset, cfg, new Rng(2).fork(`ft${r}`));
    const off = await finetune(model, start, t.dataset, FinetuneConfig.parse({}), new Rng(2).fork(`ft${r}`));
    assert.equal(off.keptBaseline, false);
    if (!res.keptBaseline) continue;
    kept++;
    // The baseline alone: the output layer zeroed, so every forecast is the encoding's yOffset.
    assert.ok(model.layout.view(res.params, model.outputLayer).every((v) => v === 0));
    const pred = predictWindows(model, res.params, t.dataset.adjacency, t.dataset.n, t.test, t.dataset.norm);
    assert.ok(pred.every((v, i) => Math.abs(v - t.test.yOffset[i]!) < 1e-3));
  }
  // Measured: all 5 regions.
  assert.ok(kept >= 4, `baseline kept in ${kept} of ${city.N} regions`);
});
