/**
 * Micro-benchmark of one STGCN training step on the current backend (GPD_BACKEND=wasm|cpu):
 * forward + tf.valueAndGrad w.r.t. the flat parameter vector + an Adam update, at batch 64 and
 * n = 6 subgraph nodes, compared with the FLOP rate of a plain 2-D matMul measured in the same run.
 * Times are process CPU time (see cpuMs) unless labelled wall.
 *
 *   node --import tsx bench/models.ts [--batch 64] [--nodes 6] [--steps 10] [--rounds 5]
 *                                     [--conv fused|toeplitz|im2col] [--profile] [--baseline <module>]
 *                                     [--batches 64,256] [--model gwn]
 *
 * --baseline <module> also times `createStgcn()` of another module (e.g. a saved copy of a previous
 * stgcn.ts) interleaved with the others, for before/after comparisons within one run on a loaded
 * machine.
 *
 * --model gwn times Graph WaveNet's engines instead ('fused', the default, and 'autodiff'), interleaved;
 * the ratio of their best CPU times is the fused engine's speed-up.
 *
 * --batches 64,256 times the fused step at several batch sizes, interleaved, and prints the CPU time
 * per `--batch` samples of each against the first: the ceiling of training several regions in one
 * computation (G regions of the same subgraph size through SHARED weights is one batch G times as
 * large; per-region weights could only add work), so a ratio near 1 says grouping cannot pay.
 *
 * efficiency = (useful FLOPs of the step / its CPU time) / (best plain [batch*n*3,128]@[128,64] matMul
 * rate of the same run); matMulUtilisation uses the FLOPs the fused engine actually executes.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tf, initBackend } from '../src/runtime/backend.js';
import { createStgcn, stgcnFlopsPerStep } from '../src/models/stgcn.js';
import { createGwn, gwnFlopsPerStep } from '../src/models/gwn.js';
import { Rng } from '../src/util/prng.js';
import type { Forecaster } from '../src/models/types.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

/** Row-normalised random adjacency with self-loops. */
export function randomAdjacency(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) {
      const v = i === j || rng.uniform() < 0.5 ? rng.range(0.1, 1) : 0;
      a[i * n + j] = v;
      s += v;
    }
    for (let j = 0; j < n; j++) a[i * n + j]! /= s;
  }
  return a;
}

/** A minimal Adam on the flat vector (state kept as tensors; old ones disposed each step). */
export function makeTrainer(model: Forecaster, init: Float32Array, lr = 1e-3) {
  let params = tf.tensor1d(init);
  let m: tf.Tensor1D = tf.zerosLike(params);
  let v: tf.Tensor1D = tf.zerosLike(params);
  let t = 0;
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const step = (x: tf.Tensor4D, adj: tf.Tensor2D, target: tf.Tensor2D): number => {
    t++;
    const [loss, np, nm, nv] = tf.tidy(() => {
      const f = (p: tf.Tensor) => {
        const y = model.forward(p as tf.Tensor1D, x, adj);
        const [B, , H] = y.shape;
        const centre = tf.reshape(tf.slice(y, [0, 0, 0], [B, 1, H]), [B, H]);
        return tf.mean(tf.square(tf.sub(centre, target))) as tf.Scalar;
      };
      const { value, grad } = tf.valueAndGrad(f)(params);
      const m2 = tf.add(tf.mul(m, b1), tf.mul(grad, 1 - b1));
      const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(grad), 1 - b2));
      const stepSize = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
      const p2 = tf.sub(params, tf.mul(tf.div(m2, tf.add(tf.sqrt(v2), eps)), stepSize));
      return [value, p2, m2, v2];
    });
    params.dispose(); m.dispose(); v.dispose();
    params = np as tf.Tensor1D; m = nm as tf.Tensor1D; v = nv as tf.Tensor1D;
    const l = loss.dataSync()[0]!;
    loss.dispose();
    return l;
  };
  return { step, params: () => params, dispose: () => { params.dispose(); m.dispose(); v.dispose(); } };
}

/**
 * CPU time of this process in ms. The wasm backend is single-threaded, so on a shared, overloaded
 * machine CPU time measures the work far more stably than wall-clock time (which includes waiting
 * for a core).
 */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** GFLOP/s of a plain [m,k]@[k,c] matMul. */
export function matMulRate(m: number, k: number, c: number, reps: number): number {
  const a = tf.randomNormal([m, k], 0, 1, 'float32', 1) as tf.Tensor2D;
  const b = tf.randomNormal([k, c], 0, 1, 'float32', 2) as tf.Tensor2D;
  tf.matMul(a, b).dispose();
  const t0 = cpuMs();
  for (let i = 0; i < reps; i++) { const y = tf.matMul(a, b); y.dataSync(); y.dispose(); }
  const ms = (cpuMs() - t0) / reps;
  a.dispose(); b.dispose();
  return (2 * m * k * c) / (ms * 1e6);
}

/**
 * --batches: the fused step at several batch sizes in one interleaved run; prints CPU ms per `unit`
 * samples for each and its ratio to the first size's.
 */
async function batchCeiling(sizes: number[], unit: number, n: number, steps: number, rounds: number): Promise<void> {
  const rng = new Rng(7);
  const adj = tf.tensor2d(randomAdjacency(n, rng), [n, n]);
  const model = createStgcn({}, { conv: 'fused' });
  const runs = sizes.map((batch) => {
    const x = tf.tensor4d(rng.normalArray(batch * n * 12 * 2), [batch, n, 12, 2]);
    const target = tf.tensor2d(rng.normalArray(batch * 6), [batch, 6]);
    const trainer = makeTrainer(model, model.layout.init(new Rng(1)));
    for (let i = 0; i < 3; i++) trainer.step(x, adj, target);
    return { batch, x, target, trainer, perUnit: [] as number[] };
  });
  for (let r = 0; r < rounds; r++) {
    for (const run of runs) {
      // The same number of samples per timing whatever the batch size.
      const reps = Math.max(1, Math.round((steps * unit) / run.batch));
      const t0 = cpuMs();
      for (let i = 0; i < reps; i++) run.trainer.step(run.x, adj, run.target);
      run.perUnit.push(((cpuMs() - t0) / reps) * (unit / run.batch));
    }
  }
  const best = runs.map((run) => Math.min(...run.perUnit));
  runs.forEach((run, i) => {
    console.log(JSON.stringify({
      batch: run.batch, n, cpuMsPer: unit, best: +best[i]!.toFixed(2), rounds: run.perUnit.map((t) => +t.toFixed(1)),
      ratioToFirst: +(best[0]! / best[i]!).toFixed(3),
    }));
    run.trainer.dispose();
    run.x.dispose();
    run.target.dispose();
  });
  adj.dispose();
}

async function main() {
  const backend = await initBackend();
  const batchesAt = process.argv.indexOf('--batches');
  if (batchesAt >= 0) {
    const sizes = process.argv[batchesAt + 1]!.split(',').map(Number);
    await batchCeiling(sizes, arg('batch', 64), arg('nodes', 6), arg('steps', 10), arg('rounds', 5));
    return;
  }
  const batch = arg('batch', 64), n = arg('nodes', 6), steps = arg('steps', 10), rounds = arg('rounds', 5);
  const rng = new Rng(7);
  const x = tf.tensor4d(rng.normalArray(batch * n * 12 * 2), [batch, n, 12, 2]);
  const adj = tf.tensor2d(randomAdjacency(n, rng), [n, n]);
  const target = tf.tensor2d(rng.normalArray(batch * 6), [batch, 6]);
  const gwn = process.argv.includes('--model') && process.argv[process.argv.indexOf('--model') + 1] === 'gwn';
  const only = process.argv.includes('--conv') ? [process.argv[process.argv.indexOf('--conv') + 1] as 'fused'] : null;
  const models: { conv: string; model: Forecaster }[] = gwn
    ? (['fused', 'autodiff'] as const).map((engine) => ({ conv: engine, model: createGwn({}, { engine }) }))
    : (only ?? (['fused', 'toeplitz', 'im2col'] as const)).map((conv) => ({ conv, model: createStgcn({}, { conv }) }));
  const baselineAt = process.argv.indexOf('--baseline');
  if (baselineAt >= 0) {
    const mod = (await import(pathToFileURL(path.resolve(process.argv[baselineAt + 1]!)).href)) as { createStgcn: () => Forecaster };
    models.push({ conv: 'baseline', model: mod.createStgcn() });
  }
  const variants = models.map(({ conv, model }) => {
    const trainer = makeTrainer(model, model.layout.init(new Rng(1)));
    for (let i = 0; i < 3; i++) trainer.step(x, adj, target);
    return { conv, trainer, times: [] as number[], wall: [] as number[] };
  });
  const before = tf.memory().numTensors;
  // Interleave variants and the plain matMul reference so machine load hits all of them alike;
  // the best round of each is the least disturbed one.
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    rates.push(matMulRate(batch * n * 3, 128, 64, 10));
    for (const v of variants) {
      const w0 = performance.now();
      const t0 = cpuMs();
      for (let i = 0; i < steps; i++) v.trainer.step(x, adj, target);
      v.times.push((cpuMs() - t0) / steps);
      v.wall.push((performance.now() - w0) / steps);
    }
  }
  // GWN: gwnFlopsPerStep counts the work both engines do (no executed/useful split).
  const gwnFlops = gwn ? gwnFlopsPerStep(batch, n) : 0;
  const flops = gwn ? { total: gwnFlops, executed: gwnFlops } : stgcnFlopsPerStep(batch, n);
  const ref = Math.max(...rates);
  for (const v of variants) {
    const ms = Math.min(...v.times);
    const achieved = flops.total / (ms * 1e6);
    console.log(JSON.stringify({
      backend, model: gwn ? 'gwn' : 'stgcn', conv: v.conv, batch, n, cpuMsPerStepBest: +ms.toFixed(2),
      cpuMsPerStepRounds: v.times.map((t) => +t.toFixed(1)), wallMsPerStepRounds: v.wall.map((t) => +t.toFixed(1)), usefulFlopsPerStep: flops.total,
      achievedGflops: +achieved.toFixed(2), plainMatMulGflopsBest: +ref.toFixed(2), efficiency: +(achieved / ref).toFixed(3),
      ...(v.conv === 'fused' && !gwn
        ? { executedFlopsPerStep: flops.executed, executedGflops: +(flops.executed / (ms * 1e6)).toFixed(2), matMulUtilisation: +(flops.executed / (ms * 1e6) / ref).toFixed(3) }
        : {}),
    }));
  }
  if (gwn) {
    const best = (conv: string) => Math.min(...variants.find((v) => v.conv === conv)!.times);
    console.log(`gwn fused speed-up over autodiff (CPU time, same run): ${(best('autodiff') / best('fused')).toFixed(2)}x`);
  }
  console.log('tensor leak over the timed loop:', tf.memory().numTensors - before);
  if (process.argv.includes('--profile')) {
    // Per-kernel times (wall, per kernel call) of several profiled steps; the minimum over the
    // profiled steps of each kernel-name total filters out most preemption by other processes.
    for (const v of variants) {
      const totals = new Map<string, { n: number; ms: number[] }>();
      for (let r = 0; r < 7; r++) {
        const prof = await tf.profile(() => { v.trainer.step(x, adj, target); });
        const step = new Map<string, { n: number; ms: number }>();
        for (const k of prof.kernels) {
          const e = step.get(k.name) ?? { n: 0, ms: 0 };
          e.n++; e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
          step.set(k.name, e);
        }
        for (const [name, e] of step) {
          const t = totals.get(name) ?? { n: e.n, ms: [] };
          t.ms.push(e.ms);
          totals.set(name, t);
        }
      }
      const rows = [...totals].map(([name, t]) => ({ name, n: t.n, ms: Math.min(...t.ms) })).sort((a, b) => b.ms - a.ms);
      console.log(`-- ${v.conv}: ${rows.reduce((s, r) => s + r.n, 0)} kernels per step, sum of min ms ${rows.reduce((s, r) => s + r.ms, 0).toFixed(2)}`);
      for (const r of rows) console.log('  ' + r.name.padEnd(20), String(r.n).padStart(4), r.ms.toFixed(3));
    }
  }
  for (const v of variants) v.trainer.dispose();
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
