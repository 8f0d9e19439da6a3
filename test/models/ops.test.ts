import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, useBackend } from '../../src/runtime/backend.js';
import {
  fromNodeMajor,
  gluRelu,
  matMul2d,
  matMul2dConstA,
  propagateNodes,
  selectionCol2im,
  selectionCol2imChannelMajor,
  selectionIm2col,
  splitParamGroups,
  splitParams,
  temporalConv,
  temporalIm2col,
  toNodeMajor,
  timeSelection,
  toeplitzConvWeight,
} from '../../src/models/ops.js';
import { ParamLayout } from '../../src/models/layout.js';
import { Rng } from '../../src/util/prng.js';

// Gradient comparisons run on the cpu backend (same float32 arithmetic for both sides).
before(async () => {
  await initBackend();
  await useBackend('cpu');
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function rand(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((x, y) => x * y, 1)), shape);
}

test('matMul2d: value and both gradients equal the built-in matMul', () => {
  const rng = new Rng(1);
  const a = rand(rng, [7, 5]) as tf.Tensor2D;
  const b = rand(rng, [5, 3]) as tf.Tensor2D;
  const r = rand(rng, [7, 3]);
  const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul2d(x as tf.Tensor2D, y as tf.Tensor2D), r)));
  const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), r)));
  assert.ok(maxAbsDiff(matMul2d(a, b).dataSync(), tf.matMul(a, b).dataSync()) < 1e-6);
  const [ga, gb] = ours([a, b]);
  const [ra, rb] = ref([a, b]);
  assert.ok(maxAbsDiff(ga!.dataSync(), ra!.dataSync()) < 1e-5);
  assert.ok(maxAbsDiff(gb!.dataSync(), rb!.dataSync()) < 1e-5);
});

test('matMul2dConstA: gradient flows only into b', () => {
  const rng = new Rng(2);
  const a = rand(rng, [6, 4]) as tf.Tensor2D;
  const b = rand(rng, [4, 2]) as tf.Tensor2D;
  const r = rand(rng, [6, 2]);
  const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul2dConstA(x as tf.Tensor2D, y as tf.Tensor2D), r)))([a, b]);
  const rb = tf.grad((y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, y as tf.Tensor2D), r)))(b);
  assert.ok(maxAbsDiff(gb!.dataSync(), rb.dataSync()) < 1e-5);
  assert.equal(maxAbsDiff(ga!.dataSync(), new Float32Array(24)), 0);
});

test('gluRelu: relu(sigmoid(gate) * value) and its hand-written gradient match autodiff', () => {
  const rng = new Rng(3);
  const z = rand(rng, [9, 8]) as tf.Tensor2D;
  const r = rand(rng, [9, 4]);
  const builtin = (x: tf.Tensor2D) => tf.relu(tf.mul(tf.sigmoid(tf.slice(x, [0, 4], [9, 4])), tf.slice(x, [0, 0], [9, 4])));
  assert.ok(maxAbsDiff(gluRelu(z).dataSync(), builtin(z).dataSync()) < 1e-6);
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(gluRelu(x as tf.Tensor2D), r)))(z);
  const gr = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(builtin(x as tf.Tensor2D), r)))(z);
  assert.ok(maxAbsDiff(g.dataSync(), gr.dataSync()) < 1e-6);
  // Some entries are clipped by relu, so the mask path is exercised.
  assert.ok(Array.from(gluRelu(z).dataSync()).some((v) => v === 0));
});

/** Direct valid temporal convolution in JS: x [N, T, C], w [K, C, O] -> [N, T', O]. */
function convJs(x: Float32Array, N: number, T: number, C: number, w: Float32Array, K: number, O: number, d: number): Float32Array {
  const tOut = T - (K - 1) * d;
  const y = new Float32Array(N * tOut * O);
  for (let n = 0; n < N; n++)
    for (let s = 0; s < tOut; s++)
      for (let o = 0; o < O; o++) {
        let acc = 0;
        for (let k = 0; k < K; k++) for (let c = 0; c < C; c++) acc += x[(n * T + s + k * d) * C + c]! * w[(k * C + c) * O + o]!;
        y[(n * tOut + s) * O + o] = acc;
      }
  return y;
}

test('temporalIm2col / temporalConv equal a direct convolution (dilation 1 and 2)', () => {
  const rng = new Rng(4);
  for (const d of [1, 2]) {
    const [N, T, C, K, O] = [3, 9, 2, 3, 4];
    const x = rand(rng, [N, T, C]) as tf.Tensor3D;
    const w = rand(rng, [K, C, O]);
    const y = temporalConv(x, tf.reshape(w, [K * C, O]) as tf.Tensor2D, K, d);
    const tOut = T - (K - 1) * d;
    assert.deepEqual(y.shape, [N, tOut, O]);
    assert.ok(maxAbsDiff(y.dataSync(), convJs(x.dataSync() as Float32Array, N, T, C, w.dataSync() as Float32Array, K, O, d)) < 1e-5);
    assert.deepEqual(temporalIm2col(x, K, d).shape, [N * tOut, K * C]);
  }
});

test('selectionIm2col equals temporalIm2col; selectionCol2im is its adjoint (dilation 1 and 2)', () => {
  const rng = new Rng(12);
  for (const d of [1, 2]) {
    const [N, T, C, K] = [3, 10, 5, 3];
    const tOut = T - (K - 1) * d;
    const sel = timeSelection(T, K, d);
    assert.deepEqual(sel.sel.shape, [T, tOut * K]);
    // Exactly one 1 per column (each tap reads one step), at row s + k*d of column s*K + k.
    const m = sel.sel.arraySync();
    for (let s = 0; s < tOut; s++)
      for (let k = 0; k < K; k++) for (let t = 0; t < T; t++) assert.equal(m[t]![s * K + k], t === s + k * d ? 1 : 0);
    assert.equal(timeSelection(T, K, d), sel, 'cached: one constant per (T, K, dilation)');
    const x = rand(rng, [N, T, C]) as tf.Tensor3D;
    const cols = selectionIm2col(tf.transpose(x, [0, 2, 1]) as tf.Tensor3D, K, d);
    assert.deepEqual(cols.shape, [N * tOut, K * C]);
    assert.equal(maxAbsDiff(cols.dataSync(), temporalIm2col(x, K, d).dataSync()), 0);
    // <im2col(x), g> = <x, col2im(g)> for every g: col2im is the exact transpose (a gradient).
    const g = rand(rng, [N * tOut, K * C]) as tf.Tensor2D;
    const back = selectionCol2im(g, T, K, d);
    assert.deepEqual(back.shape, [N, T, C]);
    const lhs = tf.sum(tf.mul(cols, g)).dataSync()[0]!;
    const rhs = tf.sum(tf.mul(x, back)).dataSync()[0]!;
    assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.abs(lhs), `${lhs} vs ${rhs}`);
    const viaAutodiff = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(temporalIm2col(v as tf.Tensor3D, K, d), g)))(x);
    assert.ok(maxAbsDiff(back.dataSync(), viaAutodiff.dataSync()) < 1e-5);
    assert.equal(maxAbsDiff(selectionCol2imChannelMajor(g, T, K, d).dataSync(), tf.transpose(back, [0, 2, 1]).dataSync()), 0);
  }
  assert.throws(() => selectionCol2im(tf.zeros([7, 6]) as tf.Tensor2D, 10, 3), /not \[N\*8, 3\*C\]/);
  assert.throws(() => timeSelection(3, 4), /too short/);
});

test('toeplitzConvWeight: x @ Wbig is the (mixed) stack of convolutions; gradient matches im2col autodiff', () => {
  const rng = new Rng(5);
  for (const d of [1, 2]) {
    const [N, T, C, K, O] = [4, 10, 3, 3, 5];
    const mix = [
      [1, 1, 0],
      [0, 0, 1],
    ];
    const w = rand(rng, [3, K, C, O]);
    const x = rand(rng, [N, T, C]) as tf.Tensor3D;
    const spec = { steps: T, kernel: K, dilation: d, inChannels: C, outChannels: O, parts: 2, mix };
    const tOut = T - (K - 1) * d;
    const y = matMul2d(tf.reshape(x, [N, T * C]) as tf.Tensor2D, toeplitzConvWeight(w, spec));
    assert.deepEqual(y.shape, [N, 2 * tOut * O]);
    // Expected: part 0 = conv(w0) + conv(w1), part 1 = conv(w2); columns (part, step, channel).
    const wd = w.dataSync() as Float32Array;
    const sz = K * C * O;
    const c0 = convJs(x.dataSync() as Float32Array, N, T, C, wd.slice(0, sz), K, O, d);
    const c1 = convJs(x.dataSync() as Float32Array, N, T, C, wd.slice(sz, 2 * sz), K, O, d);
    const c2 = convJs(x.dataSync() as Float32Array, N, T, C, wd.slice(2 * sz), K, O, d);
    const expected = new Float32Array(N * 2 * tOut * O);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < tOut * O; i++) {
        expected[n * 2 * tOut * O + i] = c0[n * tOut * O + i]! + c1[n * tOut * O + i]!;
        expected[n * 2 * tOut * O + tOut * O + i] = c2[n * tOut * O + i]!;
      }
    assert.ok(maxAbsDiff(y.dataSync(), expected) < 1e-5);

    // Gradient w.r.t. the stacked weights equals autodiff through the im2col formulation.
    const r = rand(rng, [N, 2 * tOut * O]);
    const g = tf.grad((wt: tf.Tensor) => tf.sum(tf.mul(matMul2d(tf.reshape(x, [N, T * C]) as tf.Tensor2D, toeplitzConvWeight(wt, spec)), r)))(w);
    const gRef = tf.grad((wt: tf.Tensor) => {
      const parts = tf.split(tf.reshape(wt, [3, K * C, O]), 3, 0).map((p) => tf.reshape(p, [K * C, O]) as tf.Tensor2D);
      const cols = temporalIm2col(x, K, d);
      const v = tf.reshape(tf.matMul(cols, tf.add(parts[0]!, parts[1]!)), [N, tOut * O]);
      const gt = tf.reshape(tf.matMul(cols, parts[2]!), [N, tOut * O]);
      return tf.sum(tf.mul(tf.concat([v, gt], 1), r));
    })(w);
    assert.ok(maxAbsDiff(g.dataSync(), gRef.dataSync()) < 1e-4);
  }
});

test('propagateNodes mixes node-major rows with the adjacency; node-major round trip', () => {
  const rng = new Rng(6);
  const [B, n, T, F] = [2, 3, 4, 2];
  const x = rand(rng, [B, n, T, F]) as tf.Tensor4D;
  const a = rand(rng, [n, n]) as tf.Tensor2D;
  const xn = toNodeMajor(x);
  assert.deepEqual(xn.shape, [n * B, T, F]);
  const y = propagateNodes(a, xn).dataSync();
  const xd = x.dataSync();
  const ad = a.dataSync();
  let err = 0;
  for (let i = 0; i < n; i++)
    for (let b = 0; b < B; b++)
      for (let q = 0; q < T * F; q++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += ad[i * n + j]! * xd[(b * n + j) * T * F + q]!;
        err = Math.max(err, Math.abs(acc - y[(i * B + b) * T * F + q]!));
      }
  assert.ok(err < 1e-5);
  const back = fromNodeMajor(tf.reshape(xn, [n * B, T * F]) as tf.Tensor2D, B);
  assert.equal(maxAbsDiff(back.dataSync(), xd), 0);
});

test('splitParams / splitParamGroups: values by entry, gradient is the concatenation', () => {
  const layout = new ParamLayout('t', [
    { name: 'a', shape: [2, 3], init: { kind: 'const', value: 0 }, role: 'other' },
    { name: 'b', shape: [4], init: { kind: 'const', value: 0 }, role: 'other' },
    { name: 'c', shape: [1, 2], init: { kind: 'const', value: 0 }, role: 'other' },
  ]);
  const flat = tf.tensor1d(Array.from({ length: 12 }, (_, i) => i));
  const p = splitParams(flat, layout);
  assert.deepEqual(p['a']!.shape, [2, 3]);
  assert.deepEqual(Array.from(p['b']!.dataSync()), [6, 7, 8, 9]);
  const g = tf.grad((v: tf.Tensor) => {
    const q = splitParams(v as tf.Tensor1D, layout);
    return tf.add(tf.sum(tf.mul(q['a']!, 2)), tf.sum(q['c']!));
  })(flat);
  assert.deepEqual(Array.from(g.dataSync()), [2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1]);
  const groups = splitParamGroups(flat, layout, [['a', 'b'], ['c']]);
  assert.deepEqual(groups.map((t) => t.size), [10, 2]);
  assert.throws(() => splitParamGroups(flat, layout, [['b', 'a'], ['c']]), /"b" is not next/);
  assert.throws(() => splitParams(tf.zeros([11]) as tf.Tensor1D, layout), /11 values, layout t needs 12/);
});

test('ops keep the tensor count flat across repeated gradient steps (also on wasm)', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    const rng = new Rng(7);
    const w = tf.keep(rand(rng, [2, 4, 3, 5]));
    const x = tf.keep(rand(rng, [6, 12 * 3])) as tf.Tensor2D;
    const spec = { steps: 12, kernel: 4, inChannels: 3, outChannels: 5, parts: 2 };
    const step = () =>
      tf.tidy(() => tf.grad((wt: tf.Tensor) => tf.sum(gluRelu(matMul2d(x, toeplitzConvWeight(wt, spec)))))(w).dataSync());
    step(); // builds the cached constant matrices once
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
    w.dispose();
    x.dispose();
  }
  await useBackend('cpu');
});
