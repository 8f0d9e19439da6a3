import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, useBackend, type BackendName } from '../../src/runtime/backend.js';
import { createGwn, gwnFlopsPerStep, GWN_RECEPTIVE_FIELD, type GwnForwardOptions } from '../../src/models/gwn.js';
import { Rng } from '../../src/util/prng.js';

const gwn = createGwn();

before(async () => {
  await initBackend();
});

/** Row-normalised random adjacency with self-loops, like the subgraphs the pipeline builds. */
function randomAdjacency(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const w = i === j ? 1 : rng.uniform() < 0.6 ? rng.uniform() : 0;
      a[i * n + j] = w;
      sum += w;
    }
    for (let j = 0; j < n; j++) a[i * n + j]! /= sum;
  }
  return a;
}

interface Problem {
  params: Float32Array;
  x: Float32Array;
  adj: Float32Array;
  weights: Float32Array; // fixed loss weights, so the loss is a generic linear functional of the output
  B: number;
  n: number;
}

function problem(seed: number, B: number, n: number, steps = 12): Problem {
  const rng = new Rng(seed);
  return {
    params: gwn.layout.init(rng.fork('params')),
    x: rng.fork('x').normalArray(B * n * steps * 2),
    adj: randomAdjacency(rng.fork('adj'), n),
    weights: rng.fork('w').normalArray(B * n * 6),
    B,
    n,
  };
}

/** Loss value and gradient w.r.t. the flat vector on the current backend. */
function lossAndGrad(p: Problem, opts: GwnForwardOptions = {}): { loss: number; grad: Float32Array; out: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(p.x, [p.B, p.n, 12, 2]);
    const adj = tf.tensor2d(p.adj, [p.n, p.n]);
    const w = tf.tensor3d(p.weights, [p.B, p.n, 6]);
    const f = (v: tf.Tensor1D) => tf.sum(tf.mul(gwn.forward(v, x, adj, opts), w)) as tf.Scalar;
    const { value, grad } = tf.valueAndGrad(f)(tf.tensor1d(p.params));
    const out = gwn.forward(tf.tensor1d(p.params), x, adj, opts);
    return { loss: value.dataSync()[0]!, grad: grad.dataSync() as Float32Array, out: out.dataSync() as Float32Array };
  });
}

function lossOnly(p: Problem, params: Float32Array, opts: GwnForwardOptions = {}): number {
  return tf.tidy(() => {
    const out = gwn.forward(tf.tensor1d(params), tf.tensor4d(p.x, [p.B, p.n, 12, 2]), tf.tensor2d(p.adj, [p.n, p.n]), opts);
    return tf.sum(tf.mul(out, tf.tensor3d(p.weights, [p.B, p.n, 6]))).dataSync()[0]!;
  });
}

test('layout: 83,712 parameters in the reference order minus residual convs, PyTorch init schemes and roles', () => {
  assert.equal(gwn.layout.size, 83_712);
  const names = gwn.layout.entries.map((e) => e.name);
  assert.equal(names.length, 8 * 2 + 8 + 16 + 8 + 3);
  assert.deepEqual(names.slice(0, 2), ['filter.0', 'filter.1']);
  assert.deepEqual(names.slice(-3), ['start', 'end1', 'end2']);
  const e = (name: string) => gwn.layout.entry(name);
  assert.deepEqual(e('filter.3').shape, [2, 32, 32]);
  assert.deepEqual(e('gconv.5').shape, [160, 32]);
  assert.deepEqual(e('end2').shape, [32, 6]);
  assert.deepEqual(e('filter.0').init, { kind: 'uniform', bound: 1 / 8 });
  assert.deepEqual(e('gconv.0').init, { kind: 'uniform', bound: 1 / Math.sqrt(160) });
  assert.deepEqual(e('start').init, { kind: 'uniform', bound: 1 / Math.sqrt(2) });
  assert.deepEqual(e('bn.2.weight').init, { kind: 'const', value: 1 });
  assert.deepEqual(e('bn.2.bias').init, { kind: 'const', value: 0 });
  const roles = new Map<string, number>();
  for (const en of gwn.layout.entries) roles.set(en.role, (roles.get(en.role) ?? 0) + en.size);
  assert.equal(roles.get('spatial'), 8 * 160 * 32);
  assert.equal(roles.get('temporal'), 16 * 2 * 32 * 32);
  assert.equal(roles.get('norm'), 8 * 64);
  assert.equal(roles.get('head'), 8 * 32 * 32 + 32 * 32 + 32 * 6);
  assert.equal(roles.get('other'), 2 * 32);
  // The skip convs are contiguous: the forward reads them as one [256, 32] matrix.
  assert.equal(e('skip.1').offset, e('skip.0').offset + 1024);
  assert.equal(e('skip.7').offset, e('skip.0').offset + 7 * 1024);

  const flat = gwn.layout.init(new Rng(7));
  const f0 = gwn.layout.view(flat, 'filter.0');
  assert.ok(f0.every((v) => Math.abs(v) <= 1 / 8));
  assert.ok(Math.max(...f0.map(Math.abs)) > 0.12); // spans the bound, not a narrower range
  assert.ok(gwn.layout.view(flat, 'bn.0.weight').every((v) => v === 1));
  assert.ok(gwn.layout.view(flat, 'bn.7.bias').every((v) => v === 0));
});

test('flatten/unflatten round trip is exact', () => {
  const flat = gwn.layout.init(new Rng(11));
  const parts = gwn.layout.unflatten(flat);
  assert.deepEqual(gwn.layout.flatten(parts), flat);
});

test('forward shape, input validation and determinism', () => {
  const p = problem(3, 4, 5);
  const a = lossAndGrad(p);
  const b = lossAndGrad(p);
  assert.equal(a.out.length, 4 * 5 * 6);
  assert.deepEqual(a.out, b.out);
  assert.ok(a.out.every(Number.isFinite));
  tf.tidy(() => {
    const params = tf.tensor1d(p.params);
    const adj = tf.tensor2d(p.adj, [5, 5]);
    assert.throws(() => gwn.forward(params, tf.zeros([4, 5, 11, 2]) as tf.Tensor4D, adj), /x must be \[B, n, 12, 2\]/);
    assert.throws(() => gwn.forward(params, tf.zeros([4, 4, 12, 2]) as tf.Tensor4D, adj), /adjacency must be \[4, 4\]/);
    assert.throws(() => gwn.forward(tf.zeros([10]) as tf.Tensor1D, tf.zeros([4, 5, 12, 2]) as tf.Tensor4D, adj), /83712/);
    const x = tf.tensor4d(p.x, [4, 5, 12, 2]);
    assert.throws(() => gwn.forward(params, x, adj, { training: true, dropout: 0.2 }), /seed/);
  });
});

test('the last layer graph conv and batch norm feed nothing: zero gradient there, non-zero everywhere else', () => {
  const { grad } = lossAndGrad(problem(5, 3, 4));
  for (const en of gwn.layout.entries) {
    const g = grad.subarray(en.offset, en.offset + en.size);
    const maxAbs = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    if (en.name === 'gconv.7' || en.name.startsWith('bn.7.')) assert.equal(maxAbs, 0, en.name);
    else assert.ok(maxAbs > 1e-6, `${en.name} has no gradient`);
  }
});

test('gradients match central finite differences on the cpu backend (affine and batch norm modes)', async () => {
  // Float32 differences of single coordinates drown in rounding noise (gradients ~1e-2, forward rounding
  // ~1e-6 of the loss), so each entry is checked along a random unit direction over all its coordinates:
  // g.v is as large as the entry's gradient norm. A step that straddles a relu kink shows up as
  // disagreeing differences at eps and eps/2; then a fresh direction is drawn.
  await useBackend('cpu');
  try {
    const p = problem(2, 2, 3);
    // Loss on the centre node only, as in training.
    for (let b = 0; b < p.B; b++) p.weights.fill(0, (b * p.n + 1) * 6, (b + 1) * p.n * 6);
    const rng = new Rng(13);
    const eps = 1e-2;
    for (const bnMode of ['affine', 'batch'] as const) {
      const { grad } = lossAndGrad(p, { bnMode });
      const directional = (offset: number, v: Float32Array, h: number) => {
        const plus = Float32Array.from(p.params);
        const minus = Float32Array.from(p.params);
        for (let k = 0; k < v.length; k++) {
          plus[offset + k]! += h * v[k]!;
          minus[offset + k]! -= h * v[k]!;
        }
        return (lossOnly(p, plus, { bnMode }) - lossOnly(p, minus, { bnMode })) / (2 * h);
      };
      // Every kind of entry at the first, a middle and the last layer (the 6th for graph conv / norm, whose
      // 8th copies are dead); batch mode changes only the norm layers' function, so a smaller set there.
      const sample = new Set(
        bnMode === 'affine'
          ? ['start', 'end1', 'end2', ...[0, 4, 7].flatMap((i) => [`filter.${i}`, `gate.${i}`, `skip.${i}`]),
             ...[0, 4, 6].flatMap((i) => [`gconv.${i}`, `bn.${i}.weight`, `bn.${i}.bias`])]
          : ['start', 'filter.0', 'gconv.1', ...[0, 3, 6].flatMap((i) => [`bn.${i}.weight`, `bn.${i}.bias`])],
      );
      const entries = gwn.layout.entries.filter((e) => sample.has(e.name));
      assert.equal(entries.length, sample.size);
      let worst = 0;
      let redraws = 0;
      for (const en of entries) {
        let checked = false;
        for (let attempt = 0; attempt < 4 && !checked; attempt++) {
          const v = rng.normalArray(en.size);
          const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
          let ad = 0;
          for (let k = 0; k < en.size; k++) {
            v[k]! /= norm;
            ad += grad[en.offset + k]! * v[k]!;
          }
          const fd = directional(en.offset, v, eps);
          const fdHalf = directional(en.offset, v, eps / 2);
          if (Math.abs(fd - fdHalf) > 5e-3 * (1e-3 + Math.abs(fd))) {
            redraws++;
            continue;
          }
          worst = Math.max(worst, Math.abs(fd - ad) / (1e-3 + Math.abs(ad)));
          checked = true;
        }
        assert.ok(checked, `${bnMode}: ${en.name}: no kink-free direction in 4 draws`);
      }
      // Measured: worst relative error 7e-4 (affine, 1 redraw) / 2e-4 (batch, none).
      assert.ok(worst < 5e-3, `${bnMode}: worst relative gradient error ${worst}`);
      assert.ok(redraws <= entries.length / 4, `${bnMode}: ${redraws} redraws`);
      console.log(bnMode, 'worst', worst, 'redraws', redraws);
    }
  } finally {
    await useBackend('wasm');
  }
});

test('cpu and wasm backends agree on outputs and gradients', async () => {
  const p = problem(21, 8, 6);
  const results: Record<string, ReturnType<typeof lossAndGrad>> = {};
  for (const b of ['cpu', 'wasm'] as BackendName[]) {
    await useBackend(b);
    results[b] = lossAndGrad(p);
  }
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
  const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const outDiff = maxDiff(results.cpu!.out, results.wasm!.out);
  const gradDiff = maxDiff(results.cpu!.grad, results.wasm!.grad) / maxAbs(results.cpu!.grad);
  console.log('cpu vs wasm: output max diff', outDiff, 'gradient max diff / max', gradDiff);
  // Measured: outputs 6e-8 apart, gradients 3.6e-7 of their max apart.
  assert.ok(outDiff < 1e-5, `outputs differ by ${outDiff}`);
  assert.ok(gradDiff < 1e-5, `gradients differ by ${gradDiff} (relative to max)`);
});

test('tensor count stays flat over repeated forward + gradient calls, with dropout and both norm modes', () => {
  const p = problem(4, 8, 6);
  const params = tf.tensor1d(p.params);
  const x = tf.tensor4d(p.x, [8, 6, 12, 2]);
  const adj = tf.tensor2d(p.adj, [6, 6]);
  const vg = tf.valueAndGrad((v: tf.Tensor1D) =>
    tf.mean(tf.square(gwn.forward(v, x, adj, { training: true, dropout: 0.2, seed: 5, bnMode: 'batch' }))) as tf.Scalar,
  );
  const step = () => {
    const { value, grad } = vg(params);
    value.dispose();
    grad.dispose();
    tf.dispose(gwn.forward(params, x, adj));
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) step();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([params, x, adj]);
});

test('the fused engine (default) computes what the taped forward computes: outputs and gradients, cpu and wasm', async () => {
  // Shapes: the paper's, a one-node subgraph (isolated region), inputs shorter and longer than the
  // receptive field (zero-padded / cut inside both engines).
  const cases: [B: number, n: number, steps: number][] = [[6, 5, 12], [3, 1, 12], [4, 3, 8], [2, 4, 15]];
  for (const backend of ['cpu', 'wasm'] as BackendName[]) {
    await useBackend(backend);
    for (const [B, n, steps] of cases) {
      const fused = createGwn({ inSteps: steps });
      const taped = createGwn({ inSteps: steps }, { engine: 'autodiff' });
      const rng = new Rng(40 + n);
      // Perturbed away from the init (batch-norm scale 1 / shift 0) so every entry's gradient path matters.
      const params = fused.layout.init(rng.fork('p')).map((v, i) => v + 0.05 * Math.sin(i));
      const run = (m: typeof fused) =>
        tf.tidy(() => {
          const x = tf.tensor4d(rng.fork('x').normalArray(B * n * steps * 2), [B, n, steps, 2]);
          const adj = tf.tensor2d(randomAdjacency(rng.fork('adj'), n), [n, n]);
          const w = tf.tensor3d(rng.fork('w').normalArray(B * n * 6), [B, n, 6]);
          const f = (v: tf.Tensor) => tf.sum(tf.mul(m.forward(v as tf.Tensor1D, x, adj, { training: true }), w)) as tf.Scalar;
          const grad = tf.grad(f)(tf.tensor1d(params));
          return { out: m.forward(tf.tensor1d(params), x, adj).dataSync() as Float32Array, grad: grad.dataSync() as Float32Array };
        });
      const a = run(fused);
      const b = run(taped);
      const maxDiff = (u: Float32Array, v: Float32Array) => u.reduce((m, x, i) => Math.max(m, Math.abs(x - v[i]!)), 0);
      const gradScale = b.grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      // Measured: outputs within 1.1e-7, gradients within 4e-7 of their max (wasm), 2e-7 (cpu).
      assert.ok(maxDiff(a.out, b.out) < 1e-5, `${backend} [${B},${n},${steps}]: outputs differ by ${maxDiff(a.out, b.out)}`);
      assert.ok(maxDiff(a.grad, b.grad) / gradScale < 1e-5, `${backend} [${B},${n},${steps}]: gradients differ by ${maxDiff(a.grad, b.grad)} (max ${gradScale})`);
    }
  }
  await useBackend('wasm');
});

test('tensor count stays flat over fused training steps (the bank and fine-tuning path)', () => {
  const p = problem(5, 8, 6);
  const params = tf.variable(tf.tensor1d(p.params));
  const x = tf.tensor4d(p.x, [8, 6, 12, 2]);
  const adj = tf.tensor2d(p.adj, [6, 6]);
  const step = () =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.mean(tf.square(gwn.forward(params as unknown as tf.Tensor1D, x, adj, { training: true }))) as tf.Scalar, [params]);
      params.assign(tf.sub(params, tf.mul(grads[params.name]!, 1e-3)));
    });
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) step();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([params, x, adj]);
});

test('dropout: seeded and reproducible, only when training', () => {
  const p = problem(8, 4, 5);
  const run = (opts: GwnForwardOptions) =>
    tf.tidy(() => gwn.forward(tf.tensor1d(p.params), tf.tensor4d(p.x, [4, 5, 12, 2]), tf.tensor2d(p.adj, [5, 5]), opts).dataSync() as Float32Array);
  const plain = run({});
  assert.deepEqual(run({ training: false, dropout: 0.5, seed: 3 }), plain);
  const a = run({ training: true, dropout: 0.5, seed: 3 });
  assert.deepEqual(run({ training: true, dropout: 0.5, seed: 3 }), a);
  assert.notDeepEqual(a, plain);
  assert.notDeepEqual(run({ training: true, dropout: 0.5, seed: 4 }), a);
});

test('input lengths: shorter inputs are zero-padded on the left, longer ones read only the receptive field', () => {
  const rng = new Rng(30);
  const B = 3;
  const n = 4;
  const params = gwn.layout.init(rng.fork('p'));
  const adj = randomAdjacency(rng, n);
  const run = (steps: number, data: Float32Array) =>
    tf.tidy(() =>
      createGwn({ inSteps: steps })
        .forward(tf.tensor1d(params), tf.tensor4d(data, [B, n, steps, 2]), tf.tensor2d(adj, [n, n]))
        .dataSync() as Float32Array,
    );
  const RF = GWN_RECEPTIVE_FIELD;
  assert.equal(RF, 13);
  const long = rng.normalArray(B * n * 16 * 2);
  // The same series cut to its last 13 steps, and the last 8 steps left-padded with zeros to 13.
  const last13 = new Float32Array(B * n * RF * 2);
  const padded8 = new Float32Array(B * n * RF * 2);
  const short8 = new Float32Array(B * n * 8 * 2);
  for (let s = 0; s < B * n; s++) {
    last13.set(long.subarray((s * 16 + 3) * 2, (s + 1) * 16 * 2), s * RF * 2);
    short8.set(long.subarray((s * 16 + 8) * 2, (s + 1) * 16 * 2), s * 8 * 2);
    padded8.set(long.subarray((s * 16 + 8) * 2, (s + 1) * 16 * 2), (s * RF + 5) * 2);
  }
  assert.deepEqual(run(16, long), run(RF, last13));
  const a = run(8, short8);
  const b = run(RF, padded8);
  assert.ok(a.every((v, i) => Math.abs(v - b[i]!) < 1e-6));
});

test('a few Adam steps fit one batch (the parameterisation trains)', () => {
  const rng = new Rng(40);
  const B = 16;
  const n = 4;
  // A smooth periodic signal per node; the target continues it.
  const x = new Float32Array(B * n * 12 * 2);
  const y = new Float32Array(B * n * 6);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < n; i++) {
      const phase = rng.uniform() * 6.28;
      for (let t = 0; t < 18; t++) {
        const v = Math.sin(phase + 0.4 * t);
        if (t < 12) {
          x[((b * n + i) * 12 + t) * 2] = v;
          x[((b * n + i) * 12 + t) * 2 + 1] = ((t * 5) % 288) / 288;
        } else y[(b * n + i) * 6 + t - 12] = v;
      }
    }
  const xs = tf.tensor4d(x, [B, n, 12, 2]);
  const ys = tf.tensor3d(y, [B, n, 6]);
  const adj = tf.tensor2d(randomAdjacency(rng, n), [n, n]);
  const params = tf.variable(tf.tensor1d(gwn.layout.init(rng.fork('p'))));
  const opt = tf.train.adam(3e-3);
  const loss = () => tf.mean(tf.square(tf.sub(gwn.forward(params as unknown as tf.Tensor1D, xs, adj), ys))) as tf.Scalar;
  const first = tf.tidy(() => loss().dataSync()[0]!);
  for (let i = 0; i < 60; i++) tf.dispose(opt.minimize(loss, true) ?? []);
  const last = tf.tidy(() => loss().dataSync()[0]!);
  console.log('adam fit: loss', first, '->', last);
  // Measured: the loss falls from 0.49 to 0.0004.
  assert.ok(last < first * 0.05, `loss ${first} -> ${last}`);
  opt.dispose();
  tf.dispose([xs, ys, adj, params]);
});

test('flop count per training step', () => {
  // Forward at batch 64, n = 6: start 64*6*13*2*32, 8 gated convs over 52 output steps in total, 7 graph
  // convs over 51, skip + end convs on the last step; x2 for multiply-adds, x3 for forward + backward.
  const rowsAll = 64 * 6 * 52;
  const rowsG = 64 * 6 * 51;
  const fwd = 64 * 6 * 13 * 2 * 32 + rowsAll * 64 * 64 + rowsG * (4 * 6 * 32 + 160 * 32) + 64 * 6 * (256 * 32 + 32 * 32 + 32 * 6);
  assert.equal(gwnFlopsPerStep(64, 6), 6 * fwd);
});
