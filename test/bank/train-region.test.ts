import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/runtime/backend.js';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { Rng } from '../../src/util/prng.js';
import { FlatAdam } from '../../src/train/optimizer.js';
import { createForecaster } from '../../src/models/registry.js';
import { evaluateWindows } from '../../src/train/predict.js';
import { fitForecaster } from '../../src/train/fit.js';
import { prepareCity, regionDataset } from '../../src/train/dataset.js';
import { trainRegionJob, type RegionJobContext } from '../../src/bank/region-job.js';

await initBackend();
const [city] = generateSyntheticCities({ seed: 11, cities: 1, nodes: 6, days: 4 });
const prep = prepareCity(city!, 0, 'none');
const model = createForecaster('stgcn');
const config = { epochs: 3, batchSize: 16, lr: 3e-3, weightDecay: 1e-2, patience: 5 };
const ctx: RegionJobContext = { city: city!, prep, model, config, seed: 5, init: 'random' };

test('FlatAdam follows PyTorch Adam (L2 weight decay in the gradient, bias correction)', () => {
  // f(p) = sum(a p^2 / 2 - b p): gradient a p - b. Reference in float64 with torch.optim.Adam's formulas.
  const a = [1, 3, 0.5, 10];
  const b = [0.2, -1, 2, 0.1];
  const p0 = [1, -2, 0.3, 0.05];
  const lr = 0.05;
  const wd = 0.1;
  const ref = [...p0];
  const m = [0, 0, 0, 0];
  const v = [0, 0, 0, 0];
  const params = tf.variable(tf.tensor1d(p0));
  const adam = new FlatAdam(4, { lr, weightDecay: wd });
  const before = tf.memory().numTensors;
  for (let t = 1; t <= 6; t++) {
    for (let i = 0; i < 4; i++) {
      const g = a[i]! * ref[i]! - b[i]! + wd * ref[i]!;
      m[i] = 0.9 * m[i]! + 0.1 * g;
      v[i] = 0.999 * v[i]! + 0.001 * g * g;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
      ref[i] = ref[i]! - (lr / (1 - 0.9 ** t)) * (m[i]! / denom);
    }
    tf.tidy(() => adam.step(params, tf.sub(tf.mul(params, tf.tensor1d(a)), tf.tensor1d(b))));
  }
  assert.equal(tf.memory().numTensors, before, 'no tensors leak per step');
  const got = params.dataSync();
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[i]! - ref[i]!) < 1e-6, `coordinate ${i}: ${got[i]} vs ${ref[i]}`);
  adam.dispose();
  params.dispose();
});

test('region training: deterministic per seed, improves on its init, keeps tensor count flat', async () => {
  const first = tf.memory().numTensors;
  const r0 = await trainRegionJob(ctx, 0);
  // The model may cache a few constants on its first forward; after that the count must not move.
  const before = tf.memory().numTensors;
  const r0again = await trainRegionJob(ctx, 0);
  const r1 = await trainRegionJob(ctx, 1);
  assert.equal(tf.memory().numTensors, before, 'region jobs leave no tensors behind');
  assert.ok(before - first <= 16, `first job cached ${before - first} tensors`);

  assert.deepEqual(r0again.params, r0.params, 'same seed and region -> bit-identical vector');
  assert.notDeepEqual(r1.params, r0.params);
  assert.equal(r0.params.length, 16960);
  assert.equal(r0.n, 1 + Array.from({ length: city!.N }, (_, j) => j).filter((j) => j !== 0 && (city!.adjacency[j] !== 0 || city!.adjacency[j * city!.N] !== 0)).length);

  // The kept parameters beat the random init on the validation windows (train loss goes down too).
  const ds = regionDataset(city!, prep, 0);
  const adj = tf.tensor2d(ds.adjacency, [ds.n, ds.n]);
  const evalOf = (v: Float32Array) => {
    const p = tf.tensor1d(v);
    const r = evaluateWindows(model, p, ds.val, adj, ds.norm);
    p.dispose();
    return r.metrics.mae;
  };
  const { Rng } = await import('../../src/util/prng.js');
  const init = model.layout.init(new Rng(5).fork(`${city!.id}:0`).fork('init'));
  const initMae = evalOf(init);
  const keptMae = evalOf(r0.params);
  adj.dispose();
  assert.ok(r0.bestEpoch >= 1, `best epoch ${r0.bestEpoch}`);
  assert.ok(r0.val.mae < initMae * 0.6, `val MAE ${r0.val.mae} vs init ${initMae}`);
  assert.ok(Math.abs(keptMae - r0.val.mae) < 1e-9, "reported val MAE is the kept vector's");
  assert.ok(r0.haVal.mae > 0 && Number.isFinite(r0.haVal.mae));
  assert.ok(r0.steps >= config.epochs, 'at least one step per epoch');
  assert.equal(tf.memory().numTensors, before);
});

test('warm init starts from the shared vector; zero epochs returns it unchanged', async () => {
  const shared = model.layout.init(new (await import('../../src/util/prng.js')).Rng(99));
  const r = await trainRegionJob({ ...ctx, init: 'warm', shared, config: { ...config, epochs: 0 } }, 2);
  assert.deepEqual(r.params, shared);
  assert.equal(r.bestEpoch, 0);
  await assert.rejects(trainRegionJob({ ...ctx, init: 'warm' }, 2), /warm init needs the shared model/);
  await assert.rejects(trainRegionJob(ctx, 99), /synth-a: region 99 does not exist/);
});

test('a stop request abandons training with Cancelled', async () => {
  const before = tf.memory().numTensors;
  let calls = 0;
  await assert.rejects(trainRegionJob(ctx, 0, { shouldStop: () => ++calls > 2 }), (e: Error) => e.name === 'Cancelled');
  assert.equal(tf.memory().numTensors, before, 'a cancelled fit frees its tensors');
});

test('onStep reports every step with its position in the epoch (progress inside long epochs)', async () => {
  const seen: [number, number, number][] = [];
  const r = await trainRegionJob({ ...ctx, config: { ...config, epochs: 2, patience: 5 } }, 1, { onStep: (i, n, e) => seen.push([i, n, e]) });
  assert.equal(seen.length, r.steps);
  const perEpoch = seen[0]![1];
  assert.ok(perEpoch > 1);
  assert.deepEqual(seen.filter(([, , e]) => e === 1).map(([i]) => i), Array.from({ length: perEpoch }, (_, k) => k + 1));
  assert.ok(seen.every(([i, n]) => i >= 1 && i <= n));
});

test('minStepsPerEpoch repeats reshuffled passes so a tiny few-shot set still gets that many steps per epoch', async () => {
  const plain = await trainRegionJob({ ...ctx, config: { ...config, epochs: 2, patience: 5 } }, 1);
  const perEpoch = plain.steps / plain.epochsRun;
  const longer = await trainRegionJob({ ...ctx, config: { ...config, epochs: 2, patience: 5, minStepsPerEpoch: perEpoch * 3 + 1 } }, 1);
  // Whole passes: the smallest multiple of the pass length that reaches the minimum.
  assert.equal(longer.steps / longer.epochsRun, perEpoch * 4);
  await assert.rejects(trainRegionJob({ ...ctx, config: { ...config, minStepsPerEpoch: 0 } }, 1), /minStepsPerEpoch must be a positive integer, got 0/);
});

test('maxWindowsPerEpoch draws a fresh subset each epoch; a cap that does not bind changes nothing', async () => {
  const plain = await trainRegionJob({ ...ctx, config: { ...config, epochs: 2, patience: 5 } }, 1);
  const windows = regionDataset(city!, prep, 1).train.count;
  const loose = await trainRegionJob({ ...ctx, config: { ...config, epochs: 2, patience: 5, maxWindowsPerEpoch: windows } }, 1);
  assert.deepEqual(loose.params, plain.params, 'a cap at the window count trains bit-identically');
  const cap = 2 * config.batchSize;
  assert.ok(windows >= 3 * cap, `the synthetic region holds ${windows} windows`);
  const capped = await trainRegionJob({ ...ctx, config: { ...config, epochs: 2, patience: 5, maxWindowsPerEpoch: cap } }, 1);
  assert.equal(capped.steps, capped.epochsRun * 2, 'two full batches per epoch');
  assert.notDeepEqual(capped.params, plain.params);
  await assert.rejects(trainRegionJob({ ...ctx, config: { ...config, maxWindowsPerEpoch: 0 } }, 1), /maxWindowsPerEpoch must be a positive integer, got 0/);
});

test('no observed validation target: training says it is unvalidated, runs its whole budget and keeps the last epoch', async () => {
  const ds = regionDataset(city!, prep, 0);
  const blind = { ...ds, val: { ...ds.val, yMask: new Uint8Array(ds.val.yMask.length) } };
  const init = model.layout.init(new Rng(3));
  // patience 1 with lr so high that validation would stop it early: unvalidated, nothing may stop it.
  const cfg = { epochs: 4, batchSize: 16, lr: 3e-2, weightDecay: 0, patience: 1 };
  const losses: number[] = [];
  const blindFit = await fitForecaster(model, [blind], init, cfg, new Rng(4), { onValidate: (l) => losses.push(l) });
  assert.equal(blindFit.validated, false);
  assert.equal(blindFit.epochsRun, 4);
  assert.equal(blindFit.bestEpoch, 4, 'the last epoch is kept');
  assert.ok(Number.isNaN(blindFit.bestValLoss));
  assert.equal(losses.length, 5, 'initial + one per epoch');
  assert.ok(losses.every(Number.isNaN));
  // The same data with its validation targets: validated, and its kept epoch is the lowest-loss one.
  const seen: number[] = [];
  const fit = await fitForecaster(model, [ds], init, cfg, new Rng(4), { onValidate: (l) => seen.push(l) });
  assert.equal(fit.validated, true);
  assert.ok(seen.every(Number.isFinite));
  assert.equal(fit.bestValLoss, Math.min(...seen));
  assert.equal(seen[fit.bestEpoch], fit.bestValLoss);
  // Same shuffling and steps: the unvalidated run's last epoch equals a validated run forced to the end.
  const forced = await fitForecaster(model, [ds], init, { ...cfg, patience: 99 }, new Rng(4));
  // Measured: validated, patience 1 stops after epoch 2 (best epoch 1); with patience 99 epoch 4 is best.
  assert.ok(fit.epochsRun < 4, `validated run stopped early (${fit.epochsRun} epochs)`);
  assert.equal(forced.bestEpoch, 4);
  assert.deepEqual(blindFit.params, forced.params);
});
