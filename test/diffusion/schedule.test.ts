import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cosineSchedule, ddimStepCoefficients, ddimTimesteps, linearSchedule, lossWeights, scheduleFromBetas, type NoiseSchedule,
} from '../../src/diffusion/schedule.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Golden values from scripts/golden/diffusion_golden.py (numpy float64, independent closed forms).
const golden = JSON.parse(readFileSync(path.join(here, 'golden', 'diffusion_golden.json'), 'utf8'));

/** |a - b| <= tol * max(1, |b|): absolute for O(1) values, relative for large ones (1/sqrt(abar) near T). */
function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

const FIELDS = [
  'betas', 'alphasCumprod', 'alphasCumprodPrev', 'sqrtAlphasCumprod', 'sqrtOneMinusAlphasCumprod', 'sqrtRecipAlphasCumprod',
  'sqrtRecipm1AlphasCumprod', 'posteriorVariance', 'posteriorLogVarianceClipped', 'posteriorMeanCoef1', 'posteriorMeanCoef2', 'snr',
] as const;

for (const name of ['linear1000', 'linear500', 'cosine1000', 'cosine500']) {
  test(`${name}: every coefficient matches the numpy golden values to 1e-9`, () => {
    const g = golden.schedules[name];
    const s: NoiseSchedule = g.kind === 'linear' ? linearSchedule(g.T) : cosineSchedule(g.T);
    assert.equal(s.T, g.T);
    assert.equal(s.kind, g.kind);
    for (const field of FIELDS) {
      const arr = s[field];
      assert.equal(arr.length, g.T, field);
      g.t.forEach((t: number, i: number) => close(arr[t]!, g[field][i], 1e-9, `${name}.${field}[${t}]`));
    }
    for (const obj of ['noise', 'x0', 'v'] as const) {
      const w = lossWeights(s, obj);
      g.t.forEach((t: number, i: number) => close(w[t]!, g[`weight_${obj}`][i], 1e-9, `${name} weight ${obj}[${t}]`));
    }
    const wMin = lossWeights(s, 'v', 5);
    g.t.forEach((t: number, i: number) => close(wMin[t]!, g.weight_v_minsnr5[i], 1e-9, `${name} min-snr v weight[${t}]`));
  });
}

test('schedule identities hold at every step (linear 500, cosine 1000)', () => {
  for (const s of [linearSchedule(500), cosineSchedule(1000)]) {
    for (let t = 0; t < s.T; t++) {
      const a = s.alphasCumprod[t]!;
      const aPrev = t === 0 ? 1 : s.alphasCumprod[t - 1]!;
      assert.equal(s.alphasCumprodPrev[t], aPrev);
      close(s.alphas[t]! * aPrev, a, 1e-15, 'cumprod');
      close(s.sqrtAlphasCumprod[t]! ** 2 + s.sqrtOneMinusAlphasCumprod[t]! ** 2, 1, 1e-14, 'unit variance');
      // Posterior variance: 1 / (1/(1 - abar_{t-1}) + alpha_t / beta_t) for t > 0.
      if (t > 0) close(s.posteriorVariance[t]!, 1 / (1 / (1 - aPrev) + s.alphas[t]! / s.betas[t]!), 1e-12, 'posterior variance');
      // The posterior mean's coefficients reproduce x_{t-1}'s marginal scale: c1 + c2 sqrt(abar_t) = sqrt(abar_{t-1}).
      close(s.posteriorMeanCoef1[t]! + s.posteriorMeanCoef2[t]! * Math.sqrt(a), Math.sqrt(aPrev), 1e-10, 'posterior mean scale');
    }
    assert.equal(s.posteriorVariance[0], 0);
    close(s.posteriorLogVarianceClipped[0]!, Math.log(1e-20), 1e-12, 'clipped log variance');
  }
});

test('cosine betas are clipped at 0.999 and alphasCumprod decreases monotonically', () => {
  const s = cosineSchedule(1000);
  assert.equal(s.betas[999], 0.999);
  for (let t = 1; t < s.T; t++) assert.ok(s.alphasCumprod[t]! < s.alphasCumprod[t - 1]!);
  const lin = linearSchedule(500);
  // The GPD release's T = 500 schedule keeps ~8% of the signal at its last step (noted in docs/diffusion.md).
  close(lin.sqrtAlphasCumprod[499]!, golden.facts.reference_T500_sqrt_alphas_cumprod_last, 1e-9, 'last-step signal');
});

test('bad schedule arguments are rejected with a message naming the problem', () => {
  assert.throws(() => linearSchedule(0), /T must be a positive integer/);
  assert.throws(() => linearSchedule(10, 0.1, 0.01), /betaStart <= betaEnd/);
  assert.throws(() => scheduleFromBetas('linear', Float64Array.from([0.1, 1.5])), /beta\[1\] = 1.5/);
  assert.throws(() => ddimTimesteps(100, 101), /steps must be an integer in 1..100/);
  assert.throws(() => lossWeights(linearSchedule(10), 'v', 0), /minSnrGamma/);
});

test('DDIM visited steps and update coefficients match the golden values', () => {
  const g = golden.ddim;
  assert.deepEqual(Array.from(ddimTimesteps(g.T, g.S)), g.times);
  assert.deepEqual(Array.from(ddimTimesteps(7, 7)), [6, 5, 4, 3, 2, 1, 0, -1]);
  const s = linearSchedule(g.T);
  for (const c of g.coefficients) {
    const got = ddimStepCoefficients(s, c.t, c.tNext, c.eta);
    close(got.sqrtAlphaNext, c.sqrtAlphaNext, 1e-9, `sqrtAlphaNext ${c.t}->${c.tNext}`);
    close(got.sigma, c.sigma, 1e-9, `sigma ${c.t}->${c.tNext} eta ${c.eta}`);
    close(got.dirCoef, c.dirCoef, 1e-9, `dirCoef ${c.t}->${c.tNext} eta ${c.eta}`);
  }
});

test('DDIM with eta = 1 between consecutive steps has exactly DDPM\'s posterior variance', () => {
  for (const s of [linearSchedule(500), cosineSchedule(100)]) {
    for (let t = 1; t < s.T; t++) {
      const { sigma, dirCoef, sqrtAlphaNext } = ddimStepCoefficients(s, t, t - 1, 1);
      close(sigma * sigma, s.posteriorVariance[t]!, 1e-12, `sigma^2 at ${t}`);
      // And the deterministic part equals the posterior mean written in (x0, eps): with
      // x_t = sqrt(abar) x0 + sqrt(1-abar) eps, coef1 x0 + coef2 x_t = sqrtAlphaNext x0 + dirCoef eps.
      close(s.posteriorMeanCoef1[t]! + s.posteriorMeanCoef2[t]! * s.sqrtAlphasCumprod[t]!, sqrtAlphaNext, 1e-12, `x0 coef at ${t}`);
      close(s.posteriorMeanCoef2[t]! * s.sqrtOneMinusAlphasCumprod[t]!, dirCoef, 1e-9, `eps coef at ${t}`);
    }
  }
});
