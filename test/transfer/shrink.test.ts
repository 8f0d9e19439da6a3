import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/runtime/backend.js';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { Rng } from '../../src/util/prng.js';
import { evaluateTarget } from '../../src/transfer/evaluate.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leastSquaresScale, leastSquaresScalesByHorizon, shrinkToBaseline, prescaleToTraining } from '../../src/train/calibrate.js';
import { createForecaster } from '../../src/models/registry.js';
import { predictPartNormalized } from '../../src/train/predict.js';
import type { Forecaster } from '../../src/models/types.js';
import { prepareCity, regionDataset } from '../../src/train/dataset.js';
import { prepareTarget } from '../../src/train/target.js';

await initBackend();

test('least-squares scale: exact on a scaled copy, clamped to [0, 1], masked entries ignored, 1 for a zero output', () => {
  const z = [1, -2, 3, 0.5];
  assert.ok(Math.abs(leastSquaresScale(z, z.map((v) => 0.4 * v), [1, 1, 1, 1]) - 0.4) < 1e-12);
  assert.equal(leastSquaresScale(z, z.map((v) => 3 * v), [1, 1, 1, 1]), 1);
  assert.equal(leastSquaresScale(z, z.map((v) => -v), [1, 1, 1, 1]), 0);
  // The masked entry would pull the factor to 0 if it counted.
  assert.ok(Math.abs(leastSquaresScale([1, 1, 100], [0.5, 0.5, -1000], [1, 1, 0]) - 0.5) < 1e-12);
  assert.equal(leastSquaresScale([0, 0], [1, 2], [1, 1]), 1);
});

/** Region 2 of a small synthetic city: its few-shot training and validation windows. */
function smallRegion() {
  const [city] = generateSyntheticCities({ seed: 5, cities: 1, nodes: 6, days: 6 });
  return regionDataset(city!, prepareCity(city!, 0, 'seasonal-ar'), 2);
}

/** A random init with its output layer blown up (alternating signs), so any least-squares factor must shrink it below 1. */
function oversizedInit(model: Forecaster, rng: Rng): Float32Array {
  const params = model.layout.init(rng);
  model.layout.view(params, model.outputLayer).forEach((v, i, a) => (a[i] = v * (i % 2 === 0 ? 40 : -40)));
  return params;
}

test('shrinkToBaseline scales the output layer, so every forecast is the factor times the original', async () => {
  const ds = smallRegion();
  for (const name of ['stgcn', 'gwn'] as const) {
    const model = createForecaster(name);
    const params = oversizedInit(model, new Rng(3).fork(name));
    const { params: shrunk, scale } = shrinkToBaseline(model, params, ds);
    assert.ok(scale < 1, `${name}: a blown-up output layer kept at scale ${scale}`);
    assert.ok(scale >= 0 && scale <= 1, `${name}: scale ${scale}`);
    const z0 = predictPartNormalized(model, params, ds, 'val');
    const z1 = predictPartNormalized(model, shrunk, ds, 'val');
    let maxErr = 0;
    for (let i = 0; i < z0.length; i++) maxErr = Math.max(maxErr, Math.abs(z1[i]! - scale * z0[i]!));
    assert.ok(maxErr < 1e-5, `${name}: max |z_shrunk - scale z| = ${maxErr}`);
    // Only the output layer changed.
    const e = model.layout.entry(model.outputLayer);
    for (let i = 0; i < params.length; i++) if (i < e.offset || i >= e.offset + e.size) assert.equal(shrunk[i], params[i]);
  }
});

test('per-horizon calibration scales each horizon step by its own least-squares factor, and only that step', async () => {
  const ds = smallRegion();
  for (const name of ['stgcn', 'gwn'] as const) {
    const model = createForecaster(name);
    const params = oversizedInit(model, new Rng(3).fork(name));
    const z0 = predictPartNormalized(model, params, ds, 'val');
    const expected = leastSquaresScalesByHorizon(z0, ds.val.y, ds.val.yMask);
    // Each horizon's factor is the scalar least-squares factor of that column alone.
    const column = (a: ArrayLike<number>, h: number) => Array.from({ length: ds.val.count }, (_, k) => a[k * 6 + h]!);
    for (let h = 0; h < 6; h++) assert.equal(expected[h], leastSquaresScale(column(z0, h), column(ds.val.y, h), column(ds.val.yMask, h)));
    assert.ok(new Set(expected.map((s) => s.toFixed(6))).size > 1, `${name}: every horizon got the same factor ${expected[0]}, so this test could not tell per-horizon from one factor`);
    const { params: shrunk } = shrinkToBaseline(model, params, ds, 'per-horizon');
    const z1 = predictPartNormalized(model, shrunk, ds, 'val');
    let maxErr = 0;
    for (let i = 0; i < z0.length; i++) maxErr = Math.max(maxErr, Math.abs(z1[i]! - expected[i % 6]! * z0[i]!));
    assert.ok(maxErr < 1e-5, `${name}: max |z_shrunk - scale_h z| = ${maxErr}`);
  }
});

test('prescaleToTraining fits its factor on the training windows, not the validation ones', async () => {
  const ds = smallRegion();
  const model = createForecaster('stgcn');
  const params = oversizedInit(model, new Rng(4).fork('prescale'));
  const zTrain = predictPartNormalized(model, params, ds, 'train');
  const zVal = predictPartNormalized(model, params, ds, 'val');
  const onTrain = leastSquaresScale(zTrain, ds.train.y, ds.train.yMask);
  const onVal = leastSquaresScale(zVal, ds.val.y, ds.val.yMask);
  const pre = prescaleToTraining(model, params, ds);
  assert.ok(Math.abs(pre.scale - onTrain) < 1e-12, `prescale ${pre.scale} vs training factor ${onTrain}`);
  assert.ok(Math.abs(onTrain - onVal) > 1e-6, 'the two parts give the same factor here, so this test could not tell them apart');
  assert.ok(pre.scale < 1);
  assert.equal(shrinkToBaseline(model, params, ds).scale, onVal);
});

test('evaluateTarget applies finetune.prescale: an oversized init fine-tuned briefly scores far better with it', async () => {
  const cities = generateSyntheticCities({ seed: 9, cities: 1, nodes: 6, days: 14 });
  const prep = prepareTarget(cities[0]!, 3, 0, 'seasonal-ar', 'tail');
  const model = createForecaster('stgcn');
  const init = model.layout.init(new Rng(6).fork('oversized'));
  model.layout.view(init, model.outputLayer).forEach((v, i, a) => (a[i] = v * 40));
  const mae = async (prescale: boolean) => {
    const dir = mkdtempSync(join(tmpdir(), 'gpd-prescale-'));
    try {
      const { scores } = await evaluateTarget({
        model,
        prep,
        regions: [1],
        inits: { shared: init, bankMean: init, nearest: () => init, generated: () => init },
        finetune: { epochs: 1, batchSize: 32, lr: 1e-4, weightDecay: 0, patience: 1, minStepsPerEpoch: 1, lossSpace: 'original', shrink: false, prescale, guard: 0, holdout: 'tail' },
        seed: 1,
        regionFile: (r) => join(dir, `region-${String(r).padStart(5, '0')}.safetensors`),
        methods: ['gpd'],
        // Unbounded, so the score shows what prescaling does to the model (bounded, "off" scores 4.30 instead of 7.01).
        correctionBound: 0,
      });
      return scores.result('gpd').metrics.maeMean;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const off = await mae(false);
  const on = await mae(true);
  // Measured: 2.43 with prescale, 7.01 without.
  assert.ok(on < 0.5 * off, `prescale on ${on} vs off ${off}`);
});
