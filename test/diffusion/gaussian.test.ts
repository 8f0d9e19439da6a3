import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initBackend } from '../../src/runtime/backend.js';
import { GaussianDiffusion } from '../../src/diffusion/gaussian.js';
import { cosineSchedule, ddimStepCoefficients, ddimTimesteps, linearSchedule, type NoiseSchedule } from '../../src/diffusion/schedule.js';
import type { DenoiseFn, Objective } from '../../src/diffusion/types.js';
import { Rng } from '../../src/util/prng.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Golden values from scripts/golden/diffusion_golden.py (numpy float64, independent closed forms).
const golden = JSON.parse(readFileSync(path.join(here, 'golden', 'diffusion_golden.json'), 'utf8'));
const OBJECTIVES: Objective[] = ['noise', 'x0', 'v'];

before(async () => {
  await initBackend();
});

function maxAbsDiff(a: tf.Tensor | ArrayLike<number>, b: ArrayLike<number> | number[][]): number {
  const x = a instanceof tf.Tensor ? a.dataSync() : a;
  const y = (Array.isArray(b) && Array.isArray(b[0]) ? (b as number[][]).flat() : b) as ArrayLike<number>;
  assert.equal(x.length, y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

function scalarVariable(v: number): tf.Variable {
  const init = tf.scalar(v);
  const variable = tf.variable(init);
  init.dispose();
  return variable;
}

function assignScalar(variable: tf.Variable, v: number): void {
  const value = tf.scalar(v);
  variable.assign(value);
  value.dispose();
}

/** Data: independent Gaussians per position, from a broad one to an almost-point mass. */
const MU = [0.5, -1, 2, 0];
const SD = [0.3, 1, 0.5, 0.05];

/**
 * The optimal denoiser for Gaussian data: E[x0 | x_t] in closed form, converted to what each
 * objective's network outputs. Computed in float64 in JS, independently of gaussian.ts.
 */
function gaussianOracle(s: NoiseSchedule, objective: Objective): DenoiseFn {
  return (xt, t) => {
    const [B, P] = xt.shape;
    const x = xt.dataSync();
    const steps = t.dataSync();
    const out = new Float32Array(B * P);
    for (let b = 0; b < B; b++) {
      const a = s.alphasCumprod[steps[b]!]!;
      const sa = Math.sqrt(a), sn = Math.sqrt(1 - a);
      for (let p = 0; p < P; p++) {
        const v2 = SD[p]! ** 2;
        const xi = x[b * P + p]!;
        const x0 = MU[p]! + ((sa * v2) / (a * v2 + 1 - a)) * (xi - sa * MU[p]!);
        const eps = (xi - sa * x0) / sn;
        out[b * P + p] = objective === 'x0' ? x0 : objective === 'noise' ? eps : sa * eps - sn * x0;
      }
    }
    return tf.tensor2d(out, [B, P]);
  };
}

/**
 * Exact mean and std of what a sampler produces with the Gaussian oracle. Each step is affine in
 * x_t per position (x_next = A x + c + sigma z), so the moments follow by recursion in float64.
 * `steps` lists (t, tNext, sigma, sqrtAlphaNext, dirCoef) for DDIM or is built from the DDPM posterior.
 */
function exactMoments(s: NoiseSchedule, sampler: 'ddpm' | { steps: number; eta: number }): { mean: number[]; sd: number[] } {
  const mean = MU.map(() => 0);
  const variance = MU.map(() => 1);
  const pairs: Array<[number, number]> = [];
  if (sampler === 'ddpm') for (let t = s.T - 1; t >= 0; t--) pairs.push([t, t - 1]);
  else {
    const times = ddimTimesteps(s.T, sampler.steps);
    for (let k = 0; k + 1 < times.length; k++) pairs.push([times[k]!, times[k + 1]!]);
  }
  for (const [t, tNext] of pairs) {
    const a = s.alphasCumprod[t]!;
    for (let p = 0; p < MU.length; p++) {
      const v2 = SD[p]! ** 2;
      const k = (Math.sqrt(a) * v2) / (a * v2 + 1 - a); // x0_hat = MU + k (x - sqrt(a) MU)
      const x0Const = MU[p]! - k * Math.sqrt(a) * MU[p]!;
      let A: number, c: number, noiseVar: number;
      if (sampler === 'ddpm') {
        A = s.posteriorMeanCoef1[t]! * k + s.posteriorMeanCoef2[t]!;
        c = s.posteriorMeanCoef1[t]! * x0Const;
        noiseVar = t > 0 ? s.posteriorVariance[t]! : 0;
      } else if (tNext < 0) {
        A = k;
        c = x0Const;
        noiseVar = 0;
      } else {
        const co = ddimStepCoefficients(s, t, tNext, sampler.eta);
        // eps_hat = (x - sqrt(a) x0_hat) / sqrt(1 - a)
        const epsA = (1 - Math.sqrt(a) * k) / Math.sqrt(1 - a);
        const epsC = (-Math.sqrt(a) * x0Const) / Math.sqrt(1 - a);
        A = co.sqrtAlphaNext * k + co.dirCoef * epsA;
        c = co.sqrtAlphaNext * x0Const + co.dirCoef * epsC;
        noiseVar = co.sigma ** 2;
      }
      mean[p] = A * mean[p]! + c;
      variance[p] = A * A * variance[p]! + noiseVar;
    }
  }
  return { mean, sd: variance.map(Math.sqrt) };
}

function sampleMoments(x: tf.Tensor2D): { mean: number[]; sd: number[] } {
  const [B, P] = x.shape;
  const d = x.dataSync();
  const mean = new Array<number>(P).fill(0);
  const sq = new Array<number>(P).fill(0);
  for (let b = 0; b < B; b++) for (let p = 0; p < P; p++) mean[p]! += d[b * P + p]! / B;
  for (let b = 0; b < B; b++) for (let p = 0; p < P; p++) sq[p]! += (d[b * P + p]! - mean[p]!) ** 2 / (B - 1);
  return { mean, sd: sq.map(Math.sqrt) };
}

/**
 * Sample moments agree with the exact ones: mean within 4.5 standard errors, std within
 * 4.5 x its standard error 1/sqrt(2B) (relative).
 */
function assertMoments(got: { mean: number[]; sd: number[] }, want: { mean: number[]; sd: number[] }, B: number, what: string): void {
  for (let p = 0; p < want.mean.length; p++) {
    const se = want.sd[p]! / Math.sqrt(B);
    assert.ok(Math.abs(got.mean[p]! - want.mean[p]!) <= 4.5 * se + 1e-6, `${what} mean[${p}] ${got.mean[p]} vs ${want.mean[p]}`);
    assert.ok(Math.abs(got.sd[p]! / want.sd[p]! - 1) <= 4.5 / Math.sqrt(2 * B), `${what} sd[${p}] ${got.sd[p]} vs ${want.sd[p]}`);
  }
}

test('conversions match the numpy golden example (float32 tensors, 1e-5)', () => {
  const g = golden.conversions;
  const s = linearSchedule(g.T);
  const t = Int32Array.from(g.t);
  const x0 = tf.tensor2d(g.x0), noise = tf.tensor2d(g.noise), xt = tf.tensor2d(g.xt);
  const byObj = Object.fromEntries(OBJECTIVES.map((o) => [o, new GaussianDiffusion(s, o, null)])) as Record<Objective, GaussianDiffusion>;
  const checks: Array<[tf.Tensor2D, number[][], string]> = [
    [byObj.v.qSample(x0, t, noise), g.xt, 'qSample'],
    [byObj.v.target(x0, noise, t), g.v, 'v target'],
    [byObj.noise.target(x0, noise, t), g.noise, 'noise target'],
    [byObj.x0.target(x0, noise, t), g.x0, 'x0 target'],
    [byObj.v.predictX0(tf.tensor2d(g.v), xt, t), g.x0_from_v, 'x0 from v'],
    [byObj.noise.predictX0(noise, xt, t), g.x0_from_noise, 'x0 from noise'],
    [byObj.v.predictNoise(tf.tensor2d(g.v), xt, t), g.noise, 'noise from v'],
    [byObj.x0.predictNoise(x0, xt, t), g.noise, 'noise from x0'],
    [byObj.v.posteriorMean(x0, xt, t), g.posterior_mean, 'posterior mean'],
    [byObj.v.posteriorMean(x0, xt, t), g.posterior_mean_eps_form, 'posterior mean (eps form)'],
  ];
  for (const [got, want, what] of checks) {
    assert.ok(maxAbsDiff(got, want) < 1e-5, `${what}: max diff ${maxAbsDiff(got, want)}`);
  }
  // The weighted loss of one prediction x0_hat is the same number in every parameterisation.
  const outputs: Record<Objective, number[][]> = { noise: g.eps_hat, x0: g.x0_hat, v: g.v_hat };
  for (const o of OBJECTIVES) {
    const loss = byObj[o].trainingLoss(() => tf.tensor2d(outputs[o]), x0, new Rng(1), { t, noise });
    const want = g.weighted_losses[o];
    assert.ok(Math.abs(loss.dataSync()[0]! - want) <= 1e-5 * want, `${o} weighted loss ${loss.dataSync()[0]} vs ${want}`);
    loss.dispose();
  }
  tf.dispose(checks.map((c) => c[0]));
  tf.dispose([x0, noise, xt]);
});

test('x0 is recovered from v and from noise at every step up to float32 rounding', () => {
  const rng = new Rng(7);
  for (const s of [linearSchedule(500), cosineSchedule(1000)]) {
    const B = s.T, P = 16;
    const t = Int32Array.from({ length: B }, (_, i) => i);
    const x0 = tf.tensor2d(rng.normalArray(B * P), [B, P]);
    const noise = tf.tensor2d(rng.normalArray(B * P), [B, P]);
    const xt = new GaussianDiffusion(s, 'v', null).qSample(x0, t, noise);
    const x0d = x0.dataSync();
    for (const o of OBJECTIVES) {
      const gd = new GaussianDiffusion(s, o, null);
      const target = gd.target(x0, noise, t);
      const back = gd.predictX0(target, xt, t).dataSync();
      const eps = gd.predictNoise(target, xt, t).dataSync();
      const nd = noise.dataSync();
      for (let b = 0; b < B; b++) {
        // Recovering x0 from noise divides by sqrt(abar): float32 error grows like 1/sqrt(abar_t).
        const scale = o === 'noise' ? s.sqrtRecipAlphasCumprod[b]! : 1;
        // Recovering noise from x0 divides by sqrt(1 - abar), which is tiny at the first steps.
        const epsScale = o === 'x0' ? 1 / s.sqrtOneMinusAlphasCumprod[b]! : 1;
        for (let p = 0; p < P; p++) {
          const i = b * P + p;
          assert.ok(Math.abs(back[i]! - x0d[i]!) <= 2e-6 * scale * 4, `${o} x0 at t=${b}: ${back[i]} vs ${x0d[i]}`);
          assert.ok(Math.abs(eps[i]! - nd[i]!) <= 2e-6 * epsScale * 4, `${o} noise at t=${b}: ${eps[i]} vs ${nd[i]}`);
        }
      }
      tf.dispose(target);
    }
    tf.dispose([x0, noise, xt]);
  }
});

test('q(x_t | x_0) has mean sqrt(abar) x0 and std sqrt(1 - abar) (Monte Carlo, 20000 draws)', () => {
  const s = cosineSchedule(1000);
  const gd = new GaussianDiffusion(s, 'v', null);
  const rng = new Rng(11);
  const B = 20000, P = 3;
  const row = [1.5, -0.5, 0];
  for (const step of [0, 300, 700, 999]) {
    const x0 = tf.tidy(() => tf.tile(tf.tensor2d([row]), [B, 1])) as tf.Tensor2D;
    const noise = tf.tensor2d(rng.normalArray(B * P), [B, P]);
    const xt = gd.qSample(x0, new Int32Array(B).fill(step), noise);
    const m = sampleMoments(xt);
    for (let p = 0; p < P; p++) {
      const sd = s.sqrtOneMinusAlphasCumprod[step]!;
      assert.ok(Math.abs(m.mean[p]! - s.sqrtAlphasCumprod[step]! * row[p]!) <= 4.5 * sd / Math.sqrt(B), `mean t=${step} p=${p}`);
      assert.ok(Math.abs(m.sd[p]! / sd - 1) <= 4.5 / Math.sqrt(2 * B), `std t=${step} p=${p}: ${m.sd[p]} vs ${sd}`);
    }
    tf.dispose([x0, noise, xt]);
  }
});

test('x0 clipping: per-position bounds, and the re-derived noise stays consistent with x_t', () => {
  const s = linearSchedule(500);
  const clip = { min: Float32Array.from([-1, -0.5, 0]), max: Float32Array.from([1, 0.5, 0.1]) };
  const t = Int32Array.from([100, 400]);
  const x0 = tf.tensor2d([[3, -2, 0.05], [-0.2, 0.7, -4]]);
  const noise = tf.tensor2d([[0.3, -1, 2], [1, 0.1, -0.5]]);
  for (const o of ['x0', 'v'] as const) {
    const gd = new GaussianDiffusion(s, o, clip);
    const xt = gd.qSample(x0, t, noise);
    const out = gd.target(x0, noise, t);
    const x0c = gd.predictX0(out, xt, t);
    assert.ok(maxAbsDiff(x0c, [[1, -0.5, 0.05], [-0.2, 0.5, 0]]) < 1e-5, `${o} clipped x0 ${x0c.arraySync()}`);
    const eps = gd.predictNoise(out, xt, t);
    const rebuilt = gd.qSample(x0c, t, eps);
    assert.ok(maxAbsDiff(rebuilt, xt.dataSync()) < 1e-5, `${o} x_t rebuilt from clipped x0 and re-derived noise`);
    tf.dispose([xt, out, x0c, eps, rebuilt]);
  }
  const scalar = new GaussianDiffusion(s, 'x0', { min: -1, max: 1 });
  const c = scalar.predictX0(x0, x0, t);
  assert.ok(maxAbsDiff(c, [[1, -1, 0.05], [-0.2, 0.7, -1]]) < 1e-7);
  assert.throws(() => new GaussianDiffusion(s, 'x0', { min: 1, max: 0 }), /min 1 > max 0 at position 0/);
  assert.throws(() => new GaussianDiffusion(s, 'x0', { min: Float32Array.from([0]), max: Float32Array.from([1, 2]) }), /min has 1 positions, max has 2/);
  const wrongP = new GaussianDiffusion(s, 'x0', { min: Float32Array.from([0, 0]), max: Float32Array.from([1, 1]) });
  assert.throws(() => wrongP.predictX0(x0, x0, t), /clip.min has 2 positions, the data has 3/);
  assert.throws(() => new GaussianDiffusion(s, 'v', null).qSample(x0, Int32Array.from([0, 500]), x0), /timestep 500 \(example 1\) is outside 0..499/);
  tf.dispose([x0, noise, c]);
});

test('training loss: gradients match finite differences; its expectation matches the closed form', () => {
  const s = cosineSchedule(200);
  const B = 32, P = 8;
  const rng = new Rng(3);
  const x0 = tf.tensor2d(rng.normalArray(B * P, 0.5, 2), [B, P]);
  const w = scalarVariable(0.7);
  const bias = scalarVariable(-0.2);
  const denoise: DenoiseFn = (xt) => tf.add(tf.mul(xt, w), bias) as tf.Tensor2D;
  for (const o of OBJECTIVES) {
    const gd = new GaussianDiffusion(s, o, null);
    const lossAt = (wv: number, bv: number) => {
      assignScalar(w, wv);
      assignScalar(bias, bv);
      const l = gd.trainingLoss(denoise, x0, new Rng(5));
      const v = l.dataSync()[0]!;
      l.dispose();
      return v;
    };
    const h = 1e-2;
    const fdW = (lossAt(0.7 + h, -0.2) - lossAt(0.7 - h, -0.2)) / (2 * h);
    const fdB = (lossAt(0.7, -0.2 + h) - lossAt(0.7, -0.2 - h)) / (2 * h);
    assignScalar(w, 0.7);
    assignScalar(bias, -0.2);
    const { value, grads } = tf.variableGrads(() => gd.trainingLoss(denoise, x0, new Rng(5)), [w, bias]);
    const gW = grads[w.name]!.dataSync()[0]!, gB = grads[bias.name]!.dataSync()[0]!;
    // The loss is quadratic in (w, b): central differences are exact up to float32 rounding of the loss.
    assert.ok(Math.abs(gW - fdW) <= 2e-3 * Math.max(1, Math.abs(fdW)), `${o} dL/dw ${gW} vs ${fdW}`);
    assert.ok(Math.abs(gB - fdB) <= 2e-3 * Math.max(1, Math.abs(fdB)), `${o} dL/db ${gB} vs ${fdB}`);
    assert.ok(Number.isFinite(value.dataSync()[0]!));
    tf.dispose([value, ...Object.values(grads)]);
  }
  tf.dispose([x0, w, bias]);

  // With the optimal denoiser every objective's weighted loss has the same expectation:
  // E_t[ snr_t * Var(x0 | x_t) ] = mean_t mean_p a s^2 / (a s^2 + 1 - a), t ~ U{0..T-1}.
  let expected = 0;
  for (let t = 0; t < s.T; t++) {
    const a = s.alphasCumprod[t]!;
    for (const sd of SD) expected += (a * sd * sd) / (a * sd * sd + 1 - a) / (s.T * SD.length);
  }
  const Bmc = 4000;
  const data = new Rng(9);
  const x0mc = tf.tensor2d(Float32Array.from({ length: Bmc * 4 }, (_, i) => MU[i % 4]! + SD[i % 4]! * data.normal()), [Bmc, 4]);
  for (const o of OBJECTIVES) {
    const l = new GaussianDiffusion(s, o, null).trainingLoss(gaussianOracle(s, o), x0mc, new Rng(13));
    const got = l.dataSync()[0]!;
    l.dispose();
    // Measured spread of this estimate over seeds is ~0.006 (per-example loss has std ~0.4 / sqrt(4000)).
    assert.ok(Math.abs(got - expected) < 0.03, `${o}: E[loss] ${got} vs closed form ${expected}`);
  }
  x0mc.dispose();
});

test('oracle samplers: DDPM (cosine T=100) and DDIM-20 reproduce the exact moments of their recursions and the data distribution', () => {
  const B = 6000;
  const s = cosineSchedule(100);
  const cases: Array<[string, 'ddpm' | { steps: number; eta: number }, number]> = [
    // [name, sampler, bound on |sd / SD - 1| for SD >= 0.3]. The exact recursions (table in
    // docs/diffusion.md) under-disperse by at most 5.2% (DDPM-100), 11.1% (DDIM-20) and 18.3%
    // (DDIM-20, eta 1): discretisation, plus DDIM's last step returning E[x0 | x_t]. Bounds add
    // 4.5 standard errors of the estimate (0.041 at B = 6000).
    ['ddpm', 'ddpm', 0.1],
    ['ddim20', { steps: 20, eta: 0 }, 0.16],
    ['ddim20-eta1', { steps: 20, eta: 1 }, 0.23],
  ];
  for (const [name, spec, sdTol] of cases) {
    const gd = new GaussianDiffusion(s, 'v', null);
    const sampler = spec === 'ddpm' ? gd.ddpmSampler() : gd.ddimSampler(spec.steps, spec.eta);
    const x = sampler.sample(gaussianOracle(s, 'v'), [B, 4], new Rng(21));
    const got = sampleMoments(x);
    x.dispose();
    assertMoments(got, exactMoments(s, spec), B, name);
    for (let p = 0; p < 4; p++) {
      // The means are unbiased up to 5e-4 in the exact recursions.
      assert.ok(Math.abs(got.mean[p]! - MU[p]!) < 4.5 * SD[p]! / Math.sqrt(B) + 1e-3, `${name} data mean[${p}] ${got.mean[p]}`);
      if (SD[p]! >= 0.3) assert.ok(Math.abs(got.sd[p]! / SD[p]! - 1) < sdTol, `${name} data sd[${p}] ${got.sd[p]}`);
    }
  }
});

test('reference schedule (linear T=500): DDIM-50 keeps the prior-mismatch offset its recursion predicts', () => {
  // x_T is drawn from N(0, I) but the schedule leaves sqrt(abar_T) = 0.081 of the signal, so the
  // deterministic sampler shifts the mean of MU = 2 by ~-0.079 (DDPM's noise washes it out to 0.003).
  const B = 6000;
  const s = linearSchedule(500);
  const gd = new GaussianDiffusion(s, 'v', null);
  const x = gd.ddimSampler(50, 0).sample(gaussianOracle(s, 'v'), [B, 4], new Rng(23));
  const got = sampleMoments(x);
  x.dispose();
  const want = exactMoments(s, { steps: 50, eta: 0 });
  assertMoments(got, want, B, 'ddim50 linear500');
  assert.ok(want.mean[2]! - MU[2]! < -0.07 && want.mean[2]! - MU[2]! > -0.09, `predicted offset ${want.mean[2]! - MU[2]!}`);
});

test('DDIM with eta = 1 over all T steps gives DDPM\'s samples for the same seed; objectives agree', () => {
  const s = cosineSchedule(50);
  const B = 64;
  const gd = new GaussianDiffusion(s, 'v', null);
  const a = gd.ddpmSampler().sample(gaussianOracle(s, 'v'), [B, 4], new Rng(4));
  const b = gd.ddimSampler(50, 1).sample(gaussianOracle(s, 'v'), [B, 4], new Rng(4));
  const d = maxAbsDiff(a, b.dataSync());
  assert.ok(d < 1e-4, `DDPM vs DDIM(eta=1, S=T) max diff ${d}`);
  // The same oracle in each parameterisation gives the same deterministic DDIM samples.
  const outs = OBJECTIVES.map((o) => new GaussianDiffusion(s, o, null).ddimSampler(10, 0).sample(gaussianOracle(s, o), [B, 4], new Rng(8)));
  for (let i = 1; i < outs.length; i++) {
    const diff = maxAbsDiff(outs[i]!, outs[0]!.dataSync());
    assert.ok(diff < 1e-3, `${OBJECTIVES[i]} vs noise DDIM samples differ by ${diff}`);
  }
  tf.dispose([a, b, ...outs]);
});

test('tensor count stays flat across sampler steps and training-loss calls', () => {
  const s = cosineSchedule(30);
  const clip = { min: -3, max: 3 };
  const gd = new GaussianDiffusion(s, 'v', clip);
  const start = tf.memory().numTensors;
  for (const sampler of [gd.ddpmSampler(), gd.ddimSampler(7, 0.5)]) {
    const counts: number[] = [];
    const x = sampler.sample(gaussianOracle(s, 'v'), [5, 4], new Rng(1), { onStep: (i, total) => {
      assert.ok(i >= 1 && i <= total);
      counts.push(tf.memory().numTensors);
    } });
    assert.ok(counts.length > 1 && counts.every((c) => c === counts[0]), `per-step counts ${counts}`);
    assert.equal(counts[0], start + 1, 'only the current state is alive between steps');
    x.dispose();
  }
  const w = scalarVariable(0.5);
  const x0 = tf.tensor2d(new Rng(2).normalArray(20), [5, 4]);
  const afterSetup = tf.memory().numTensors;
  const rng = new Rng(6);
  for (let i = 0; i < 5; i++) {
    const { value, grads } = tf.variableGrads(() => gd.trainingLoss((xt) => tf.mul(xt, w) as tf.Tensor2D, x0, rng), [w]);
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, afterSetup, `after training-loss call ${i}`);
  }
  tf.dispose([w, x0]);
  assert.equal(tf.memory().numTensors, start);
});
