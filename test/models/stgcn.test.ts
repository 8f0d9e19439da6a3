import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, useBackend } from '../../src/runtime/backend.js';
import { createStgcn, stgcnFlopsPerStep, stgcnLayout } from '../../src/models/stgcn.js';
import type { Forecaster } from '../../src/models/types.js';
import { Rng } from '../../src/util/prng.js';

before(async () => {
  await initBackend();
});

/** Row-normalised adjacency with self-loops and a few random edges. */
function adjacency(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) {
      const v = i === j || rng.uniform() < 0.6 ? rng.range(0.2, 1) : 0;
      a[i * n + j] = v;
      s += v;
    }
    for (let j = 0; j < n; j++) a[i * n + j]! /= s;
  }
  return a;
}

interface Problem {
  params: Float32Array;
  x: Float32Array;
  adj: Float32Array;
  r: Float32Array;
  B: number;
  n: number;
}

function problem(model: Forecaster, B: number, n: number, seed: number): Problem {
  const rng = new Rng(seed);
  return {
    params: model.layout.init(rng.fork('params')),
    x: rng.normalArray(B * n * 12 * 2),
    adj: adjacency(n, rng),
    r: rng.normalArray(B * n * 6),
    B,
    n,
  };
}

/** Loss sum(y * r) and its gradient w.r.t. the flat parameters (tensors disposed). */
function lossAndGrad(model: Forecaster, p: Problem): { loss: number; grad: Float32Array; y: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(p.x, [p.B, p.n, 12, 2]);
    const a = tf.tensor2d(p.adj, [p.n, p.n]);
    const r = tf.tensor3d(p.r, [p.B, p.n, 6]);
    const y = model.forward(tf.tensor1d(p.params), x, a);
    const { value, grad } = tf.valueAndGrad((v: tf.Tensor) => tf.sum(tf.mul(model.forward(v as tf.Tensor1D, x, a), r)))(tf.tensor1d(p.params));
    return { loss: value.dataSync()[0]!, grad: grad.dataSync() as Float32Array, y: y.dataSync() as Float32Array };
  });
}

/** The same loss evaluated in float64 from the float32 forward output. */
function lossAt(model: Forecaster, p: Problem, params: Float32Array): number {
  const y = tf.tidy(() =>
    model.forward(tf.tensor1d(params), tf.tensor4d(p.x, [p.B, p.n, 12, 2]), tf.tensor2d(p.adj, [p.n, p.n])).dataSync(),
  );
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * p.r[i]!;
  return s;
}

/** GPD_TEST_VERBOSE=1 prints the measured errors the tolerances below were set from. */
function report(what: string, value: unknown): void {
  if (process.env.GPD_TEST_VERBOSE) console.log(`[stgcn.test] ${what}: ${JSON.stringify(value)}`);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('layout: 16,960 parameters in reference order with PyTorch-default init bounds and roles', () => {
  const layout = stgcnLayout();
  assert.equal(layout.size, 16960);
  assert.deepEqual(
    layout.entries.map((e) => [e.name, e.shape.join('x'), e.role]),
    [
      ['block1.Theta1', '32x8', 'spatial'],
      ['block1.temporal1.conv1', '4x2x32', 'temporal'],
      ['block1.temporal1.conv2', '4x2x32', 'temporal'],
      ['block1.temporal1.conv3', '4x2x32', 'temporal'],
      ['block1.temporal2.conv1', '4x8x32', 'temporal'],
      ['block1.temporal2.conv2', '4x8x32', 'temporal'],
      ['block1.temporal2.conv3', '4x8x32', 'temporal'],
      ['last_temporal.conv1', '4x32x32', 'temporal'],
      ['last_temporal.conv2', '4x32x32', 'temporal'],
      ['last_temporal.conv3', '4x32x32', 'temporal'],
      ['fully', '96x6', 'head'],
    ],
  );
  const bound = (name: string) => {
    const s = layout.entry(name).init;
    assert.equal(s.kind, 'uniform');
    return s.kind === 'uniform' ? s.bound : NaN;
  };
  // Conv2d: 1/sqrt(in * 1 * 4); Theta: 1/sqrt(8); head: xavier sqrt(6 / (96 + 6)).
  assert.ok(Math.abs(bound('block1.temporal1.conv1') - 1 / Math.sqrt(8)) < 1e-12);
  assert.ok(Math.abs(bound('block1.temporal2.conv3') - 1 / Math.sqrt(32)) < 1e-12);
  assert.ok(Math.abs(bound('last_temporal.conv2') - 1 / Math.sqrt(128)) < 1e-12);
  assert.ok(Math.abs(bound('block1.Theta1') - 1 / Math.sqrt(8)) < 1e-12);
  assert.ok(Math.abs(bound('fully') - Math.sqrt(6 / 102)) < 1e-12);
  // Drawn values respect (and nearly reach) each bound.
  const flat = layout.init(new Rng(3));
  for (const e of layout.entries) {
    const v = layout.view(flat, e.name);
    const m = v.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
    const b = bound(e.name);
    assert.ok(m <= b && m > 0.9 * b, `${e.name}: max |w| ${m} vs bound ${b}`);
  }
});

test('forward: shapes, input checks, and the three engines agree', () => {
  const fast = createStgcn();
  const p = problem(fast, 3, 4, 11);
  const a = lossAndGrad(fast, p);
  assert.equal(a.y.length, 3 * 4 * 6);
  // The autodiff engines (built-in gradients of independent op sequences) check the fused backward.
  for (const conv of ['toeplitz', 'im2col'] as const) {
    const b = lossAndGrad(createStgcn({}, { conv }), p);
    report(`fused vs ${conv} (output, grad)`, [maxAbsDiff(a.y, b.y), maxAbsDiff(a.grad, b.grad)]);
    // measured on wasm: outputs 0, gradients <= 1.1e-7 apart (float32 summation order)
    assert.ok(maxAbsDiff(a.y, b.y) < 1e-6, `${conv}: outputs differ by ${maxAbsDiff(a.y, b.y)}`);
    assert.ok(maxAbsDiff(a.grad, b.grad) < 1e-5, `${conv}: gradients differ by ${maxAbsDiff(a.grad, b.grad)}`);
  }
  const params = tf.tensor1d(p.params);
  assert.throws(() => fast.forward(params, tf.zeros([2, 4, 11, 2]) as tf.Tensor4D, tf.eye(4) as tf.Tensor2D), /expected \[batch, nodes, 12, 2\]/);
  assert.throws(() => fast.forward(params, tf.zeros([2, 4, 12, 2]) as tf.Tensor4D, tf.eye(3) as tf.Tensor2D), /expected \[4, 4\] for 4 nodes/);
  assert.throws(() => createStgcn({ inSteps: 9 }), /inSteps > 9/);
  // A longer history changes only the head's input size.
  assert.equal(createStgcn({ inSteps: 13, outSteps: 3 }).layout.entry('fully').shape.join('x'), '128x3');
});

test('fused engine matches autodiff im2col at other dims, batch and node counts', () => {
  // Different F, T, H, B and n than the defaults exercise every reshape of the fused engine's
  // sample-major / channel-major layouts (a wrong axis order would still pass at B = n).
  const dims = { inFeatures: 3, inSteps: 14, outSteps: 4 };
  const [B, n] = [5, 3];
  const fused = createStgcn(dims);
  const auto = createStgcn(dims, { conv: 'im2col' });
  const rng = new Rng(51);
  const params = fused.layout.init(rng.fork('params'));
  const x = rng.normalArray(B * n * 14 * 3);
  const adj = adjacency(n, rng);
  const r = rng.normalArray(B * n * 4);
  const run = (model: Forecaster) =>
    tf.tidy(() => {
      const xt = tf.tensor4d(x, [B, n, 14, 3]);
      const a = tf.tensor2d(adj, [n, n]);
      const rt = tf.tensor3d(r, [B, n, 4]);
      const f = (v: tf.Tensor) => tf.sum(tf.mul(model.forward(v as tf.Tensor1D, xt, a), rt));
      const { value, grad } = tf.valueAndGrad(f)(tf.tensor1d(params));
      const y = model.forward(tf.tensor1d(params), xt, a);
      return { loss: value.dataSync()[0]!, grad: grad.dataSync() as Float32Array, y: y.dataSync() as Float32Array, shape: y.shape };
    });
  const a = run(fused);
  const b = run(auto);
  assert.deepEqual(a.shape, [B, n, 4]);
  const scale = b.grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  report('fused vs im2col at F=3, T=14, H=4, B=5, n=3 (output, grad, grad scale)', [maxAbsDiff(a.y, b.y), maxAbsDiff(a.grad, b.grad), scale]);
  // measured on wasm: outputs 0 apart, gradients 1.5e-7 (largest gradient 0.47)
  assert.ok(scale > 0.1, `gradient scale ${scale}`);
  assert.ok(maxAbsDiff(a.y, b.y) < 1e-5, `outputs differ by ${maxAbsDiff(a.y, b.y)}`);
  assert.ok(maxAbsDiff(a.grad, b.grad) < 1e-5 * scale, `gradients differ by ${maxAbsDiff(a.grad, b.grad)}`);
});

test('gradient matches central finite differences (cpu backend)', async () => {
  await useBackend('cpu');
  try {
    const model = createStgcn();
    const p = problem(model, 2, 3, 21);
    const { grad } = lossAndGrad(model, p);
    const rng = new Rng(99);
    // eps 1e-3: small enough that few relu kinks fall inside [x - eps, x + eps], large enough that
    // float32 rounding of the loss (~1e-8 here) stays ~1e-5 in the quotient.
    const eps = 1e-3;
    const l0 = lossAt(model, p, p.params);
    let worstSmooth = 0;
    let kinks = 0;
    let nonzero = 0;
    for (const e of model.layout.entries) {
      for (let k = 0; k < 4; k++) {
        const i = e.offset + rng.int(e.size);
        const plus = Float32Array.from(p.params);
        const minus = Float32Array.from(p.params);
        plus[i]! += eps;
        minus[i]! -= eps;
        const lp = lossAt(model, p, plus);
        const lm = lossAt(model, p, minus);
        const central = (lp - lm) / (2 * eps);
        const fwd = (lp - l0) / eps;
        const bwd = (l0 - lm) / eps;
        const g = grad[i]!;
        if (g !== 0) nonzero++;
        if (Math.abs(fwd - bwd) > 1e-4 + 0.02 * Math.abs(central)) {
          // A relu kink lies within eps: the analytic gradient is the slope on one side of it.
          kinks++;
          const side = Math.min(Math.abs(g - fwd), Math.abs(g - bwd));
          assert.ok(side < 5e-5 + 2e-2 * Math.abs(g), `${e.name}[${i}]: grad ${g}, one-sided ${fwd} / ${bwd}`);
        } else {
          worstSmooth = Math.max(worstSmooth, Math.abs(g - central) / (3e-5 + Math.abs(central)));
        }
      }
    }
    // measured (seeds 21/99): 1 kink of 44 coordinates, 37 nonzero gradients, worst smooth
    // |g - fd| / (3e-5 + |fd|) = 0.044 (on a ~1e-4 gradient; large gradients agree to ~1e-3).
    report('finite differences (kinks, nonzero, worstSmooth)', [kinks, nonzero, worstSmooth]);
    assert.ok(kinks <= 6, `${kinks} of 44 coordinates sit at relu kinks`);
    assert.ok(nonzero >= 30, `only ${nonzero} of 44 sampled gradients are nonzero`);
    assert.ok(worstSmooth < 0.3, `worst relative error ${worstSmooth}`);
  } finally {
    await useBackend('wasm');
  }
});

test('cpu and wasm backends give the same outputs and gradients', async () => {
  const model = createStgcn();
  const p = problem(model, 4, 6, 31);
  await useBackend('cpu');
  const c = lossAndGrad(model, p);
  await useBackend('wasm');
  const w = lossAndGrad(model, p);
  const scale = c.grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  report('cpu vs wasm (output, grad, grad scale)', [maxAbsDiff(c.y, w.y), maxAbsDiff(c.grad, w.grad), scale]);
  // measured: outputs 1e-8, gradients 1.2e-7 apart (largest gradient 0.33)
  assert.ok(maxAbsDiff(c.y, w.y) < 1e-6, `outputs differ by ${maxAbsDiff(c.y, w.y)}`);
  assert.ok(maxAbsDiff(c.grad, w.grad) < 2e-6, `gradients differ by ${maxAbsDiff(c.grad, w.grad)}`);
});

test('training steps keep the tensor count flat and reduce a regression loss', async () => {
  await useBackend('wasm');
  const model = createStgcn();
  const rng = new Rng(41);
  const [B, n] = [16, 4];
  const x = tf.tensor4d(rng.normalArray(B * n * 24), [B, n, 12, 2]);
  const adj = tf.tensor2d(adjacency(n, rng), [n, n]);
  // Target: a fixed function of the centre node's last values, learnable by the model.
  const xs = x.arraySync();
  const target = tf.tensor2d(xs.map((s) => Array.from({ length: 6 }, (_, h) => 0.5 * s[0]![11 - h]![0]!)));
  const params = tf.variable(tf.tensor1d(model.layout.init(rng.fork('init'))));
  const opt = tf.train.adam(0.01);
  const step = () =>
    tf.tidy(() => {
      const loss = opt.minimize(() => {
        const y = model.forward(params as unknown as tf.Tensor1D, x, adj);
        const centre = tf.reshape(tf.slice(y, [0, 0, 0], [B, 1, 6]), [B, 6]);
        return tf.mean(tf.square(tf.sub(centre, target))) as tf.Scalar;
      }, true, [params]);
      return loss!.dataSync()[0]!;
    });
  const first = step();
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 60; i++) last = step();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked across training steps');
  report('training loss (first, last)', [first, last]);
  // measured: 0.27 -> 7.6e-5 after 60 Adam steps
  assert.ok(last < 0.05 * first, `loss ${first} -> ${last}`);
  opt.dispose();
  params.dispose();
});

test('stgcnFlopsPerStep counts the matMuls of a step', () => {
  const f = stgcnFlopsPerStep(64, 6);
  // forward multiply-adds x2 by layer (N = 384 series): conv1 3456x8x64, Theta 3456x32x8,
  // propagation 6x6x4608, conv2 2304x32x64, conv3 1152x128x64, head 384x96x6
  const fwd = 2 * (3456 * 8 * 64 + 3456 * 32 * 8 + 6 * 6 * 4608 + 2304 * 32 * 64 + 1152 * 128 * 64 + 384 * 96 * 6);
  assert.equal(f.forward, fwd);
  assert.ok(f.total > 2.5 * f.forward && f.total < 3 * f.forward);
  // The fused engine adds its time-selection matMuls ([N*C, T] @ [T, T'*4]: block 1 forward, blocks
  // 2 and 3 forward and backward); it sums conv1 + conv2 in JS.
  const select = 2 * 768 * 12 * 36 + 2 * (2 * 3072 * 9 * 24 + 2 * 12288 * 6 * 12);
  assert.equal(f.executed, f.total + select);
  assert.ok(f.executed < 1.08 * f.total, `executed ${f.executed} vs useful ${f.total}`);
});
