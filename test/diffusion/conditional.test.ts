/**
 * Conditional generation at a reduced size (CI): for each of the five conditioning strategies, a
 * denoiser trained for a few hundred steps on the synthetic conditional set must generate vectors
 * whose per-prompt mean is closer to the true f(prompt) than the bank mean is, and DDIM-50 must
 * track DDPM-500. The full-size check (5x) is bench/diffusion.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/runtime/backend.js';
import { CONDITIONING_STRATEGIES } from '../../src/diffusion/denoisers/transformer.js';
import type { GenerateOptions } from '../../src/diffusion/generator.js';
import { runConditionalExperiment, type ConditionalExperimentOptions } from './synthetic-conditional.js';

await initBackend();

const options: ConditionalExperimentOptions = {
  data: { channels: 14, hidden: 8 }, // P = 972
  train: 128,
  heldOut: 16,
  testPrompts: 6,
  samplesPerPrompt: 3,
  denoiser: { tokenization: { kind: 'layer-aware', tokenSize: 128 }, width: 64, depth: 2, heads: 4, mlpRatio: 2 },
  process: { kind: 'gaussian', schedule: 'linear', T: 500, objective: 'x0', weighting: 'uniform' },
  training: { steps: STEPS(), batchSize: 16, lr: 2e-3, warmup: 20, validateEvery: 50, promptDropout: 0.1 },
  seed: 7,
};
function STEPS(): number {
  return Number(process.env.GPD_CONDITIONAL_TEST_STEPS ?? 250);
}

for (const strategy of CONDITIONING_STRATEGIES) {
  test(`${strategy}: generated per-prompt mean beats the bank mean on held-out prompts`, async () => {
    const samplers: Record<string, Omit<GenerateOptions, 'seed' | 'samples'>> = strategy === 'adaln' ? { ddim50: { sampler: 'ddim' as const, steps: 50 }, ddpm500: { sampler: 'ddpm' as const } } : { ddim50: { sampler: 'ddim' as const, steps: 50 } };
    const r = await runConditionalExperiment(strategy, options, samplers);
    const ratio = r.bankMeanError / r.errors.ddim50!;
    console.log(`${strategy}: bank-mean error ${r.bankMeanError.toFixed(4)}, generated ${r.errors.ddim50!.toFixed(4)}, ratio ${ratio.toFixed(2)}, ${r.trainSeconds.toFixed(0)} s`);
    assert.ok(ratio > RATIO_FLOOR, `${strategy}: ratio ${ratio.toFixed(2)} <= ${RATIO_FLOOR}`);
    if (r.errors.ddpm500 !== undefined) {
      const dd = r.errors.ddim50! / r.errors.ddpm500;
      console.log(`${strategy}: DDIM-50 / DDPM-500 error ${dd.toFixed(3)}`);
      assert.ok(Math.abs(dd - 1) < DDIM_TOLERANCE, `DDIM-50 / DDPM-500 = ${dd.toFixed(3)}`);
    }
  });
}

/** Measured (see the report): ratios after 250 steps; the floor leaves a margin below the worst. */
const RATIO_FLOOR = 1.2;
const DDIM_TOLERANCE = 0.25;
