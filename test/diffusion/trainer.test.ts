import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, existsSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, initBackend } from '../../src/runtime/backend.js';
import { Rng } from '../../src/util/prng.js';
import { ParamLayout } from '../../src/models/layout.js';
import { TransformerDenoiser, type TransformerConfig } from '../../src/diffusion/denoisers/transformer.js';
import { trainDenoiser, type TrainingSet } from '../../src/diffusion/trainer.js';
import { Generator, loadGenerator, makeGeneratorConfig, processFromConfig, saveGenerator, type ProcessConfig } from '../../src/diffusion/generator.js';
import { clipRangeFromBank, fitNormalizer, normalize } from '../../src/diffusion/tokenize.js';

await initBackend();

const layout = new ParamLayout('tiny', [
  { name: 'w', shape: [4, 8], init: { kind: 'uniform', bound: 1 }, role: 'temporal' },
  { name: 'theta', shape: [4, 4], init: { kind: 'uniform', bound: 1 }, role: 'spatial' },
]); // P = 48
const cfg: TransformerConfig = {
  tokenization: { kind: 'layer-aware', tokenSize: 16 },
  width: 16,
  depth: 1,
  heads: 2,
  mlpRatio: 2,
  spatialDim: 2,
  temporalDim: 1,
  strategy: 'pre-bias',
  timeScale: 1,
};
const proc: ProcessConfig = { kind: 'gaussian', schedule: 'linear', T: 100, betaEnd: 0.1, objective: 'x0', weighting: 'uniform' };

function dataset(n: number, seed: number): { set: TrainingSet; raw: Float32Array[] } {
  const r = new Rng(seed);
  const spatial: Float32Array[] = [];
  const temporal: Float32Array[] = [];
  const raw: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const s = r.normalArray(2);
    const t = r.normalArray(1);
    spatial.push(s);
    temporal.push(t);
    raw.push(Float32Array.from({ length: 48 }, (_, p) => (p < 32 ? Math.tanh(t[0]! + p / 16) : Math.sin(s[0]! * (p - 31)) + s[1]!) + 0.01 * r.normal()));
  }
  const norm = fitNormalizer(raw);
  return { set: { x0: raw.map((v) => normalize(norm, v)), spatial, temporal }, raw };
}

test('checkpoint + resume reaches bit-identical weights and the same loss curve as an uninterrupted run', async () => {
  const { set } = dataset(24, 1);
  const held = dataset(8, 2).set;
  const dirA = mkdtempSync(join(tmpdir(), 'gpd-train-a-'));
  const dirB = mkdtempSync(join(tmpdir(), 'gpd-train-b-'));
  try {
    const opts = { steps: 16, batchSize: 8, lr: 3e-3, seed: 9, validation: held, validateEvery: 4, checkpointEvery: 4 };
    const mA = new TransformerDenoiser(layout, cfg, new Rng(3));
    const a = await trainDenoiser(mA, processFromConfig(proc, null), set, { ...opts, runDir: dirA });
    // Interrupted run: abort after step 6 (a checkpoint is written on abort), then resume in a fresh model.
    const ctrl = new AbortController();
    const mB1 = new TransformerDenoiser(layout, cfg, new Rng(3));
    const b1 = await trainDenoiser(mB1, processFromConfig(proc, null), set, { ...opts, runDir: dirB, signal: ctrl.signal, onProgress: (p) => p.step === 6 && ctrl.abort() });
    assert.equal(b1.interrupted, true);
    assert.equal(b1.step, 6);
    const mB2 = new TransformerDenoiser(layout, cfg, new Rng(77)); // different init: everything must come from the checkpoint
    const b2 = await trainDenoiser(mB2, processFromConfig(proc, null), set, { ...opts, runDir: dirB, resume: true });
    assert.equal(b2.step, 16);
    for (const n of mA.names) assert.deepEqual(mB2.params[n]!.dataSync(), mA.params[n]!.dataSync(), `raw weight ${n}`);
    for (const n of mA.names) assert.deepEqual(b2.weights[n], a.weights[n], `selected EMA weight ${n}`);
    assert.equal(b2.bestStep, a.bestStep);
    const curveA = readFileSync(join(dirA, 'loss.jsonl'), 'utf8');
    assert.equal(readFileSync(join(dirB, 'loss.jsonl'), 'utf8'), curveA);
    const lines = curveA.trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; val?: number });
    assert.equal(lines.length, 16);
    assert.deepEqual(lines.filter((l) => l.val !== undefined).map((l) => l.step), [4, 8, 12, 16]);
    assert.ok(existsSync(join(dirA, 'checkpoint.safetensors')));
    [mA, mB1, mB2].forEach((m) => m.dispose());
  } finally {
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  }
});

test('a kill mid-write: a cut-off loss line is dropped on resume, a damaged checkpoint is trained again from the start', async () => {
  const { set } = dataset(24, 1);
  const opts = { steps: 8, batchSize: 8, lr: 3e-3, seed: 9, checkpointEvery: 4 };
  const dirA = mkdtempSync(join(tmpdir(), 'gpd-train-a-'));
  const dirB = mkdtempSync(join(tmpdir(), 'gpd-train-b-'));
  const models: TransformerDenoiser[] = [];
  const train = (dir: string, more: Partial<Parameters<typeof trainDenoiser>[3]> = {}) => {
    const m = new TransformerDenoiser(layout, cfg, new Rng(3));
    models.push(m);
    return trainDenoiser(m, processFromConfig(proc, null), set, { ...opts, runDir: dir, ...more });
  };
  try {
    const a = await train(dirA);
    const curveA = readFileSync(join(dirA, 'loss.jsonl'), 'utf8');
    const ctrl = new AbortController();
    await train(dirB, { signal: ctrl.signal, onProgress: (p) => p.step === 5 && ctrl.abort() });
    appendFileSync(join(dirB, 'loss.jsonl'), '{"step":6,"lo');
    await train(dirB, { resume: true });
    assert.equal(readFileSync(join(dirB, 'loss.jsonl'), 'utf8'), curveA);
    // The checkpoint cut short: resuming starts over and, with the same seed, ends where run A did.
    const ckpt = join(dirB, 'checkpoint.safetensors');
    truncateSync(ckpt, 100);
    const b = await train(dirB, { resume: true });
    assert.equal(b.step, 8);
    for (const n of models[0]!.names) assert.deepEqual(b.weights[n], a.weights[n], n);
    assert.equal(readFileSync(join(dirB, 'loss.jsonl'), 'utf8'), curveA);
  } finally {
    models.forEach((m) => m.dispose());
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  }
});

test('model selection keeps the best validation step; early stopping after `patience` bad evaluations', async () => {
  const { set } = dataset(16, 4);
  const scores = [5, 3, 4, 4.5, 6, 1]; // best at the 2nd evaluation; patience 3 stops at the 5th
  let calls = 0;
  const m = new TransformerDenoiser(layout, cfg, new Rng(5));
  const r = await trainDenoiser(m, processFromConfig(proc, null), set, { steps: 40, batchSize: 8, lr: 1e-3, seed: 1, validateEvery: 5, patience: 3, validate: () => scores[calls++]! });
  assert.equal(r.bestStep, 10);
  assert.equal(r.bestValue, 3);
  assert.equal(r.stoppedEarly, true);
  assert.equal(r.step, 25);
  m.dispose();
});

test('memory is flat over 1,000 training steps of a tiny model (tf.memory().numTensors at step 10 = at step 1000)', async () => {
  const { set } = dataset(16, 6);
  const m = new TransformerDenoiser(layout, { ...cfg, width: 8, heads: 1, mlpRatio: 1 }, new Rng(6));
  const counts: Record<number, number> = {};
  const r = await trainDenoiser(m, processFromConfig(proc, null), set, {
    steps: 1000,
    batchSize: 4,
    lr: 1e-3,
    seed: 2,
    validation: dataset(4, 7).set,
    validateEvery: 250,
    onProgress: (p) => {
      if (p.step === 10 || p.step === 1000) counts[p.step] = tf.memory().numTensors;
    },
  });
  assert.equal(r.step, 1000);
  assert.equal(counts[1000], counts[10]);
  m.dispose();
});

test('generator save -> load -> generate gives identical vectors in original units, with nothing else loaded', async () => {
  const { set, raw } = dataset(24, 8);
  const norm = fitNormalizer(raw);
  const clip = clipRangeFromBank(norm, raw);
  const m = new TransformerDenoiser(layout, cfg, new Rng(8));
  const r = await trainDenoiser(m, processFromConfig(proc, clip), set, { steps: 10, batchSize: 8, lr: 1e-3, seed: 3 });
  m.setWeights(r.weights);
  const gen = new Generator(makeGeneratorConfig(m, proc, { guidance: 1.5, promptNames: { spatial: ['a', 'b'], temporal: ['c'] } }), m, norm, clip);
  const prompts = { spatial: set.spatial!.slice(0, 3), temporal: set.temporal!.slice(0, 3) };
  const dir = mkdtempSync(join(tmpdir(), 'gpd-gen-'));
  try {
    saveGenerator(dir, gen);
    const before = gen.generate(prompts, { sampler: 'ddim', steps: 10, seed: 5, samples: 2 });
    const loaded = loadGenerator(dir);
    const after = loaded.generate(prompts, { sampler: 'ddim', steps: 10, seed: 5, samples: 2 });
    assert.equal(after.length, 6);
    assert.deepEqual(after, before);
    assert.equal(loaded.config.layout.hash, layout.hash());
    assert.deepEqual(loaded.config.prompts.spatial.names, ['a', 'b']);
    assert.equal(loaded.config.guidance, 1.5);
    // Original units: bounded by the bank's scale, not the normalised one (values of tanh/sin + offset).
    assert.ok(after.every((v) => v.every((x) => Number.isFinite(x) && Math.abs(x) < 20)));
    const before2 = tf.memory().numTensors;
    loaded.generate(prompts, { sampler: 'ddpm', seed: 6 });
    assert.equal(tf.memory().numTensors, before2, 'generate leaks tensors');
    assert.throws(() => loaded.generate({ spatial: prompts.spatial }, { seed: 1 }), /needs temporal prompts/);
    loaded.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    gen.dispose();
  }
});
