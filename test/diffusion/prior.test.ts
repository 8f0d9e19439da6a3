/**
 * The neighbour prior (diffusion/prior.ts): the mean of the k vectors with the nearest prompts, a
 * training row's own left out; stored in the generator folder and added back to every sample.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/runtime/backend.js';
import { NeighbourPrior } from '../../src/diffusion/prior.js';
import { ParamLayout } from '../../src/models/layout.js';
import { TransformerDenoiser } from '../../src/diffusion/denoisers/transformer.js';
import { Generator, loadGenerator, makeGeneratorConfig, saveGenerator, type ProcessConfig } from '../../src/diffusion/generator.js';
import { Rng } from '../../src/util/prng.js';

await initBackend();

test('the prior averages the k nearest prompts by cosine, leaving the given row out', () => {
  const prompts = [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]].map((p) => Float32Array.from(p));
  const vectors = [[1, 1], [3, 3], [10, 10], [20, 20]].map((v) => Float32Array.from(v));
  const prior = new NeighbourPrior(vectors, prompts, 2);
  assert.deepEqual(Array.from(prior.predict(Float32Array.from([1, 0.05]))), [2, 2]);
  // Row 0's own vector is left out: its two nearest others are rows 1 and 3.
  assert.deepEqual(Array.from(prior.predict(prompts[0]!, 0)), [11.5, 11.5]);
  assert.throws(() => new NeighbourPrior(vectors, prompts.slice(1), 2), /4 vectors for 3 prompts/);
});

test('a generator with a prior adds it to every sample and keeps it through save and load', () => {
  const layout = new ParamLayout('tiny', [{ name: 'w', shape: [4], init: { kind: 'const', value: 0 }, role: 'temporal' }]);
  const proc: ProcessConfig = { kind: 'gaussian', schedule: 'linear', T: 20, objective: 'x0', weighting: 'uniform' };
  const cfg = { tokenization: { kind: 'layer-aware' as const, tokenSize: 4 }, width: 8, depth: 1, heads: 1, mlpRatio: 1, spatialDim: 2, temporalDim: 0, strategy: 'pre' as const, timeScale: 1 };
  const model = new TransformerDenoiser(layout, cfg, new Rng(1));
  const norm = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
  const clip = { min: new Float32Array(4).fill(-3), max: new Float32Array(4).fill(3) };
  const bank = [Float32Array.from([100, 100, 100, 100]), Float32Array.from([-100, -100, -100, -100])];
  const prompts = [Float32Array.from([1, 0]), Float32Array.from([0, 1])];
  const prior = new NeighbourPrior(bank, prompts, 1);
  const gen = new Generator(makeGeneratorConfig(model, proc, { prior: { kind: 'neighbours', k: 1 } }), model, norm, clip, prior);
  const dir = mkdtempSync(join(tmpdir(), 'gpd-prior-'));
  try {
    const out = gen.generate({ spatial: [Float32Array.from([1, 0.1]), Float32Array.from([0.1, 1])] }, { sampler: 'ddim', steps: 5, seed: 2 });
    // The residual is clipped to +-3: each sample lies within 3 of its nearest row's vector.
    assert.ok(out[0]!.every((v) => Math.abs(v - 100) <= 3), `${out[0]}`);
    assert.ok(out[1]!.every((v) => Math.abs(v + 100) <= 3), `${out[1]}`);
    saveGenerator(dir, gen);
    const loaded = loadGenerator(dir);
    assert.deepEqual(loaded.generate({ spatial: [Float32Array.from([1, 0.1]), Float32Array.from([0.1, 1])] }, { sampler: 'ddim', steps: 5, seed: 2 }), out);
    loaded.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    gen.dispose();
  }
});
