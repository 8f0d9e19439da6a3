/**
 * Diffusion benchmark: training speed of the Transformer denoiser at the GPD release's STGCN layout
 * (64 x 265 tokens, width 128, batch 64), generation time per region for DDPM-500 and DDIM-50, and the
 * conditional-generation check on the synthetic conditional set for all five conditioning strategies.
 *
 *   npx tsx bench/diffusion.ts                 # full size (the lead's run; tens of minutes on one core)
 *   GPD_BENCH_SIZE=small npx tsx bench/diffusion.ts   # reduced: small batch for speed, short training
 *   GPD_BENCH_STEPS=1500 GPD_BENCH_STRATEGIES=pre,adaln GPD_BENCH_SKIP_SPEED=1 ...  # partial runs
 *
 * Ends with the four summary lines the issue asks for (train-step-ms, engine-efficiency,
 * conditional-error-ratio, ddim50-over-ddpm500).
 */
import { tf, initBackend } from '../src/runtime/backend.js';
import { Rng } from '../src/util/prng.js';
import { ParamLayout } from '../src/models/layout.js';
import { CONDITIONING_STRATEGIES, TransformerDenoiser } from '../src/diffusion/denoisers/transformer.js';
import { processFromConfig, type ProcessConfig } from '../src/diffusion/generator.js';
import { runConditionalExperiment, type ConditionalExperimentOptions } from '../test/diffusion/synthetic-conditional.js';

const small = process.env.GPD_BENCH_SIZE === 'small';
const backend = await initBackend();
const proc: ProcessConfig = { kind: 'gaussian', schedule: 'linear', T: 500, objective: 'x0', weighting: 'uniform' };
console.log(`backend: ${backend}; size: ${small ? 'small (GPD_BENCH_SIZE=small)' : 'full'}`);

const speedBatch = small ? 8 : 64;
let stepMs = NaN;
let efficiency = NaN;
if (process.env.GPD_BENCH_SKIP_SPEED !== '1') await speedSection();

// ---- 2. conditional generation on the synthetic set ---------------------------------------------
const experiment: ConditionalExperimentOptions = {
  data: small ? { channels: 14, hidden: 8 } : { channels: 16 },
  train: small ? 128 : 256,
  heldOut: 32,
  testPrompts: 8,
  samplesPerPrompt: 4,
  denoiser: { tokenization: { kind: 'layer-aware', tokenSize: small ? 128 : 64 }, width: 64, depth: 2, heads: 4, mlpRatio: 2 },
  process: proc,
  training: { steps: Number(process.env.GPD_BENCH_STEPS ?? (small ? 300 : 3000)), batchSize: 32, lr: 2e-3, warmup: 20, validateEvery: small ? 100 : 200, promptDropout: 0.1 },
  seed: 7,
};
let worstRatio = Infinity;
let worstDdim = 1;
const only = process.env.GPD_BENCH_STRATEGIES?.split(',');
for (const strategy of CONDITIONING_STRATEGIES.filter((s) => !only || only.includes(s))) {
  const r = await runConditionalExperiment(strategy, experiment, { ddim50: { sampler: 'ddim', steps: 50 }, ddpm500: { sampler: 'ddpm' } });
  const ratio = r.bankMeanError / r.errors.ddim50!;
  const dd = r.errors.ddim50! / r.errors.ddpm500!;
  console.log(
    `${strategy.padEnd(14)} bank-mean error ${r.bankMeanError.toFixed(4)}  DDIM-50 ${r.errors.ddim50!.toFixed(4)}  DDPM-500 ${r.errors.ddpm500!.toFixed(4)}  ratio ${ratio.toFixed(2)}  ddim/ddpm ${dd.toFixed(3)}  (${r.steps} steps, ${r.trainSeconds.toFixed(0)} s)`,
  );
  worstRatio = Math.min(worstRatio, ratio);
  if (Math.abs(dd - 1) > Math.abs(worstDdim - 1)) worstDdim = dd;
}

console.log(`train-step-ms: ${Number.isFinite(stepMs) ? stepMs.toFixed(0) : 'n/a'}${small ? ` (batch ${speedBatch}, reduced size)` : ''}`);
console.log(`engine-efficiency: ${Number.isFinite(efficiency) ? efficiency.toFixed(3) : 'n/a'}`);
const ran = Number.isFinite(worstRatio);
console.log(`conditional-error-ratio: ${ran ? worstRatio.toFixed(2) : 'n/a'}`);
console.log(`ddim50-over-ddpm500: ${ran ? worstDdim.toFixed(3) : 'n/a'}`);

async function speedSection(): Promise<void> {
  // ---- 1. speed at the reference layout --------------------------------------------------------
  // STGCN's 16,960 parameters; the bench only needs the size and one 'spatial' entry (Theta).
  const stgcn = new ParamLayout('stgcn-size', [
    { name: 'block1', shape: [8000], init: { kind: 'normal', std: 0.1 }, role: 'temporal' },
    { name: 'theta', shape: [64, 16, 2], init: { kind: 'normal', std: 0.1 }, role: 'spatial' },
    { name: 'rest', shape: [16960 - 8000 - 2048], init: { kind: 'normal', std: 0.1 }, role: 'other' },
  ]);
  const batch = speedBatch;
  const width = 128;
  const model = new TransformerDenoiser(
    stgcn,
    { tokenization: { kind: 'reference', channels: 64 }, width, depth: 2, heads: 4, mlpRatio: 2, spatialDim: 32, temporalDim: 16, strategy: 'pre-bias', timeScale: 1 },
    new Rng(1),
  );
  console.log(`denoiser: ${model.tokenizer.numTokens} tokens x ${model.tokenizer.tokenSize}, width ${width}, depth 2, ${model.parameterCount} weights`);
  const diffusion = processFromConfig(proc, null);
  const rng = new Rng(2);
  const P = stgcn.size;
  const x0 = tf.tensor2d(rng.normalArray(batch * P), [batch, P]);
  const sp = tf.tensor2d(rng.normalArray(batch * 32), [batch, 32]);
  const tp = tf.tensor2d(rng.normalArray(batch * 16), [batch, 16]);
  const vars = model.names.map((n) => model.params[n]!);
  const optimizer = tf.train.adam(1e-4);
  const trainStep = () =>
    tf.tidy(() => {
      const loss = optimizer.minimize(() => diffusion.trainingLoss((xt, t) => model.forward(model.params, xt, t, { spatial: sp, temporal: tp }), x0, rng), true, vars);
      loss!.dataSync();
    });
  trainStep(); // warm-up (kernel compilation, memory growth)
  const reps = small ? 1 : 3;
  let t0 = performance.now();
  for (let i = 0; i < reps; i++) trainStep();
  stepMs = (performance.now() - t0) / reps;
  const usefulFlops = 3 * 2 * model.forwardMacsPerExample() * batch; // forward + ~2x for backward
  console.log(`train step: ${stepMs.toFixed(0)} ms at batch ${batch} (${(1000 / stepMs).toFixed(2)} steps/s), ${(usefulFlops / stepMs / 1e6).toFixed(2)} GFLOP/s useful`);

  // A plain 2-D matMul of similar size: [batch * L, width] @ [width, 2 * width].
  const L = model.tokenizer.numTokens;
  const a = tf.randomNormal([batch * L, width], 0, 1, 'float32', 3) as tf.Tensor2D;
  const b = tf.randomNormal([width, 2 * width], 0, 1, 'float32', 4) as tf.Tensor2D;
  tf.tidy(() => {
    tf.matMul(a, b).dataSync();
  });
  const mmReps = 5;
  t0 = performance.now();
  for (let i = 0; i < mmReps; i++) tf.tidy(() => {
    tf.matMul(a, b).dataSync();
  });
  const mmMs = (performance.now() - t0) / mmReps;
  const mmRate = (2 * batch * L * width * 2 * width) / mmMs; // FLOP per ms
  efficiency = usefulFlops / stepMs / mmRate;
  console.log(`plain matMul [${batch * L}x${width}]@[${width}x${2 * width}]: ${(mmRate / 1e6).toFixed(2)} GFLOP/s`);

  // Generation time per region: one network evaluation per step (batch of regions) x steps.
  const regions = small ? 4 : 16;
  const xr = tf.tensor2d(rng.normalArray(regions * P), [regions, P]);
  const spr = tf.tensor2d(rng.normalArray(regions * 32), [regions, 32]);
  const tpr = tf.tensor2d(rng.normalArray(regions * 16), [regions, 16]);
  const fwd = () =>
    tf.tidy(() => {
      model.forward(model.params, xr, tf.fill([regions], 250) as tf.Tensor1D, { spatial: spr, temporal: tpr }).dataSync();
    });
  fwd();
  t0 = performance.now();
  const fwdReps = small ? 2 : 5;
  for (let i = 0; i < fwdReps; i++) fwd();
  const fwdMs = (performance.now() - t0) / fwdReps;
  if (small) {
    console.log(`generation per region (estimated from ${fwdReps} forward passes of ${regions} regions): DDPM-500 ${((fwdMs * 500) / regions / 1000).toFixed(2)} s, DDIM-50 ${((fwdMs * 50) / regions / 1000).toFixed(2)} s`);
  } else {
    const den = model.denoiseFn({ spatial: spr, temporal: tpr });
    const g = processFromConfig(proc, null);
    if (!('ddpmSampler' in g)) throw new Error('unreachable');
    for (const [name, sampler] of [
      ['DDIM-50', g.ddimSampler(50)],
      ['DDPM-500', g.ddpmSampler()],
    ] as const) {
      t0 = performance.now();
      sampler.sample(den, [regions, P], new Rng(9)).dispose();
      console.log(`generation per region, ${name}: ${((performance.now() - t0) / regions / 1000).toFixed(2)} s (batch of ${regions} regions)`);
    }
  }
  tf.dispose([x0, sp, tp, a, b, xr, spr, tpr]);
  optimizer.dispose();
  model.dispose();
}
