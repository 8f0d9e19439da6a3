import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { sourceSplit, targetSplit } from '../../src/data/splits.js';
import { initBackend, tf } from '../../src/runtime/backend.js';
import { Rng } from '../../src/util/prng.js';
import { writeSafetensors } from '../../src/util/safetensors.js';
import { concatSamples, encodeSample, maeRegionEmbeddings, MAE_WEIGHT_NAMES, reconstructSample, regionDaySamples, trainTemporalMae, type TemporalMae } from '../../src/prompts/temporal-mae.js';
import { nearestLanduseRatio } from './fixtures.js';
import { loadTemporalMae, maeFromJson, maeToJson, saveTemporalMae } from '../../src/prompts/temporal-mae-io.js';

const cities = generateSyntheticCities({ seed: 11 });
const target = cities[0]!;
const sources = cities.slice(1);
const OPTS = { bins: 24, feature: 0 };
const samples = concatSamples(sources.map((s) => regionDaySamples(s, sourceSplit(s).train, OPTS)));
const fewShot = targetSplit(target, 3).fewShot;

let trained: { model: TemporalMae; losses: number[] } | undefined;
async function model(): Promise<{ model: TemporalMae; losses: number[] }> {
  trained ??= await trainTemporalMae(samples, { steps: 300, seed: 2 });
  return trained;
}

test('day samples: every region-day of the sources, neighbour channel present for connected regions', () => {
  // 3 sources x 24 regions x floor(0.8 * 14 days) whole days
  assert.equal(samples.count, 3 * 24 * 11);
  assert.equal(samples.values.length, samples.count * 48);
  let ownAvail = 0;
  for (let s = 0; s < samples.count; s++) for (let b = 0; b < 24; b++) ownAvail += samples.avail[s * 48 + b]!;
  assert.equal(ownAvail, samples.count * 24); // synthetic cities have no missing readings
});

test('training is deterministic per seed and keeps tf.memory().numTensors flat', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const a = await trainTemporalMae(samples, { steps: 30, seed: 5 }, () => counts.push(tf.memory().numTensors));
  assert.equal(tf.memory().numTensors, before, 'training leaked tensors');
  // after the first step the optimiser's slots exist; from then on the count must not move
  assert.ok(counts.slice(1).every((c) => c === counts[1]), `numTensors per step: ${counts.join(',')}`);
  const b = await trainTemporalMae(samples, { steps: 30, seed: 5 });
  const c = await trainTemporalMae(samples, { steps: 30, seed: 6 });
  for (const name of MAE_WEIGHT_NAMES) assert.deepEqual(a.model.weights[name], b.model.weights[name], `weight ${name} differs for the same seed`);
  assert.notDeepEqual(a.model.weights.w1, c.model.weights.w1);
  assert.deepEqual(a.losses, b.losses);
});

test('the autoencoder learns: loss falls and hidden bins of unseen target days are reconstructed', async (t) => {
  const { model: m, losses } = await model();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(losses.slice(0, 20));
  const last = mean(losses.slice(-20));
  assert.ok(last < 0.5 * first, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  // target few-shot days were never trained on; hide half of each day's bins and reconstruct them
  const tgt = regionDaySamples(target, fewShot, OPTS);
  const rng = new Rng(99);
  let err = 0;
  let base = 0;
  let n = 0;
  for (let s = 0; s < tgt.count; s++) {
    const keep = new Float32Array(48);
    const hide: number[] = [];
    for (let b = 0; b < 24; b++) {
      const h = rng.uniform() < 0.5;
      if (h) hide.push(b);
      keep[b] = h ? 0 : 1;
      keep[24 + b] = h ? 0 : tgt.avail[s * 48 + 24 + b]!;
    }
    const rec = reconstructSample(m, tgt, s, keep);
    for (const b of hide) {
      const v = tgt.values[s * 48 + b]!;
      err += (rec[b]! - v) ** 2;
      base += v * v; // predicting the region's mean (z = 0)
      n++;
    }
  }
  const ratio = err / base;
  assert.ok(ratio < 0.4, `masked reconstruction MSE / mean-baseline MSE = ${ratio.toFixed(3)} over ${n} bins`);
  t.diagnostic(`loss ${first.toFixed(3)} -> ${last.toFixed(3)}; masked reconstruction MSE / baseline ${ratio.toFixed(3)}`);
});

test('the JS encoder equals a tfjs forward pass with the same weights', async () => {
  const { model: m } = await model();
  const w = m.weights;
  const s = 17;
  const keep = samples.avail.subarray(s * 48, s * 48 + 48);
  const js = encodeSample(m, samples, s);
  const x = new Float32Array(96);
  for (let j = 0; j < 48; j++) {
    x[j] = samples.values[s * 48 + j]! * keep[j]!;
    x[48 + j] = keep[j]!;
  }
  const tfz = tf.tidy(() => {
    const h = tf.relu(tf.add(tf.matMul(tf.tensor2d(x, [1, 96]), tf.tensor2d(w.w1, [96, 64])), tf.tensor1d(w.b1)));
    return tf.tanh(tf.add(tf.matMul(h, tf.tensor2d(w.w2, [64, 16])), tf.tensor1d(w.b2)));
  });
  const z = tfz.dataSync();
  tfz.dispose();
  for (let e = 0; e < 16; e++) assert.ok(Math.abs(z[e]! - js[e]!) < 1e-5, `dim ${e}: ${z[e]} vs ${js[e]}`);
});

test('embeddings from 3 few-shot days find source regions with similar land use', async (t) => {
  const { model: m } = await model();
  const tgt = maeRegionEmbeddings(m, target, fewShot, 0);
  const src = sources.map((c) => maeRegionEmbeddings(m, c, sourceSplit(c).train, 0));
  const ratio = nearestLanduseRatio(target, sources, tgt, src);
  assert.ok(ratio < 0.6, `nearest-embedding land-use distance / random = ${ratio.toFixed(3)}`);
  t.diagnostic(`nearest-embedding land-use distance / random = ${ratio.toFixed(3)}`);
});

test('weights round-trip through safetensors and JSON; bad files are named in errors', async () => {
  const { model: m } = await model();
  const dir = mkdtempSync(join(tmpdir(), 'gpd-mae-'));
  try {
    const path = join(dir, 'mae.safetensors');
    saveTemporalMae(path, m);
    const back = loadTemporalMae(path);
    assert.deepEqual(back.config, m.config);
    for (const name of MAE_WEIGHT_NAMES) assert.deepEqual(back.weights[name], m.weights[name]);
    const viaJson = maeFromJson(JSON.parse(JSON.stringify(maeToJson(m))));
    assert.deepEqual(maeRegionEmbeddings(viaJson, target, fewShot, 0), maeRegionEmbeddings(m, target, fewShot, 0));
    const bad = join(dir, 'bad.safetensors');
    writeSafetensors(bad, { w1: { dtype: 'F32', shape: [2], data: new Float32Array(2) } }, { format: 'gpd-temporal-mae', config: JSON.stringify(m.config) });
    assert.throws(() => loadTemporalMae(bad), new RegExp(`temporal MAE file ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (missing tensor "b1"|weight "w1" has 2 values)`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
