import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/runtime/backend.js';
import { Rng } from '../../src/util/prng.js';
import { CONDITIONING_STRATEGIES, TransformerDenoiser, type TransformerConfig } from '../../src/diffusion/denoisers/transformer.js';
import { multiHeadAttention, sequencesPerBlock } from '../../src/diffusion/denoisers/layers.js';
import { SyntheticConditional } from './synthetic-conditional.js';

await initBackend();

const syn = new SyntheticConditional({ channels: 6 }); // P = 36 + 72 + 72 + 6 + 36 + 6 = 228
const base = (strategy: TransformerConfig['strategy']): TransformerConfig => ({
  tokenization: { kind: 'layer-aware', tokenSize: 16 },
  width: 32,
  depth: 2,
  heads: 4,
  mlpRatio: 2,
  spatialDim: syn.spatialDim,
  temporalDim: syn.temporalDim,
  strategy,
  timeScale: 1,
});
const B = 3;
const P = syn.layout.size;
const rng = new Rng(11);
const xt = tf.tensor2d(rng.normalArray(B * P), [B, P]);
const t = tf.tensor1d([0, 250, 499]);
const sp = tf.tensor2d(rng.normalArray(B * syn.spatialDim), [B, syn.spatialDim]);
const tp = tf.tensor2d(rng.normalArray(B * syn.temporalDim), [B, syn.temporalDim]);
const sp2 = tf.tensor2d(rng.normalArray(B * syn.spatialDim), [B, syn.spatialDim]);

function run(m: TransformerDenoiser, spatial: tf.Tensor2D | null = sp, keep?: tf.Tensor): Float32Array {
  const out = m.forward(m.params, xt, t, { spatial, temporal: tp }, keep);
  assert.deepEqual(out.shape, [B, P]);
  const d = out.dataSync() as Float32Array;
  out.dispose();
  return d;
}
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

for (const strategy of CONDITIONING_STRATEGIES) {
  test(`${strategy}: output [B, P], finite, seeded, no tensor leak, prompt dependence as designed`, () => {
    const m = new TransformerDenoiser(syn.layout, base(strategy), new Rng(1));
    const before = tf.memory().numTensors;
    const a = run(m);
    assert.equal(tf.memory().numTensors, before, 'forward leaks tensors');
    assert.ok(a.every(Number.isFinite));
    const m2 = new TransformerDenoiser(syn.layout, base(strategy), new Rng(1));
    assert.deepEqual(run(m2), a, 'same seed, same output');
    const m3 = new TransformerDenoiser(syn.layout, base(strategy), new Rng(2));
    assert.ok(maxAbsDiff(run(m3), a) > 1e-3, 'different seed, different output');
    const changed = maxAbsDiff(run(m, sp2), a);
    if (strategy === 'adaln') {
      // adaLN-Zero: modulation starts at zero, so prompts (and t) cannot matter before training.
      assert.ok(changed < 1e-6, `adaln init should ignore prompts, changed by ${changed}`);
    } else {
      assert.ok(changed > 1e-4, `spatial prompt should change the output (changed by ${changed})`);
    }
    // keep = 0 swaps in the learned null prompts: same as passing no prompts at all.
    const keep0 = tf.zeros([B, 1]);
    const viaKeep = run(m, sp, keep0);
    const out = m.forward(m.params, xt, t, { spatial: null, temporal: null });
    assert.ok(maxAbsDiff(viaKeep, out.dataSync() as Float32Array) < 1e-5);
    tf.dispose([keep0, out]);
    [m, m2, m3].forEach((x) => x.dispose());
  });
}

test('classifier-free guidance: denoiseFn(s) = uncond + s (cond - uncond); s = 1 is plain conditional', () => {
  const m = new TransformerDenoiser(syn.layout, base('pre-bias'), new Rng(4));
  const cond = run(m);
  const uncondT = m.forward(m.params, xt, t, { spatial: null, temporal: null });
  const uncond = uncondT.dataSync() as Float32Array;
  const f1 = m.denoiseFn({ spatial: sp, temporal: tp })(xt, t);
  assert.ok(maxAbsDiff(f1.dataSync() as Float32Array, cond) < 1e-6);
  const f3 = m.denoiseFn({ spatial: sp, temporal: tp }, { guidance: 3 })(xt, t);
  const expected = cond.map((c, i) => uncond[i]! + 3 * (c - uncond[i]!));
  assert.ok(maxAbsDiff(f3.dataSync() as Float32Array, expected) < 1e-4);
  tf.dispose([uncondT, f1, f3]);
  m.dispose();
});

test('reference tokenisation with the spatial mask: forward works, P not divisible by channels', () => {
  const m = new TransformerDenoiser(syn.layout, { ...base('pre-bias'), tokenization: { kind: 'reference', channels: 20 } }, new Rng(5));
  assert.equal(m.tokenizer.numTokens, Math.ceil(P / 20));
  assert.ok(run(m).every(Number.isFinite));
  m.dispose();
});

/** Plain autodiff attention (batched kernel, built-in gradients) as the reference. */
function referenceAttention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, Bn: number, L: number, H: number): tf.Tensor2D {
  const d = q.shape[1];
  const dh = d / H;
  const h = (x: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(x, [Bn, L, H, dh]), [0, 2, 1, 3]), [Bn * H, L, dh]) as tf.Tensor3D;
  const s = tf.softmax(tf.div(tf.matMul(h(q), h(k), false, true), Math.sqrt(dh)));
  const o = tf.matMul(s as tf.Tensor3D, h(v));
  return tf.reshape(tf.transpose(tf.reshape(o, [Bn, H, L, dh]), [0, 2, 1, 3]), [Bn * L, d]) as tf.Tensor2D;
}

test('hand-written block attention (long sequences, with and without block-diagonal packing) matches autodiff', () => {
  for (const [Bn, L, H, dh] of [
    [2, 100, 2, 4], // 4 sequences of 100 -> packed 2 per block (mask)
    [1, 130, 2, 3], // 2 sequences of 130 -> one per block
  ] as const) {
    const d = H * dh;
    const r = new Rng(L);
    const q = tf.tensor2d(r.normalArray(Bn * L * d), [Bn * L, d]);
    const k = tf.tensor2d(r.normalArray(Bn * L * d), [Bn * L, d]);
    const v = tf.tensor2d(r.normalArray(Bn * L * d), [Bn * L, d]);
    const w = tf.tensor2d(r.normalArray(Bn * L * d), [Bn * L, d]);
    const G = sequencesPerBlock(Bn * H, L);
    assert.equal(G, L === 100 ? 2 : 1);
    const f = (fn: typeof referenceAttention) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(fn(a as tf.Tensor2D, b as tf.Tensor2D, c as tf.Tensor2D, Bn, L, H), w));
    const ours = tf.tidy(() => multiHeadAttention(q, k, v, Bn, L, H).dataSync());
    const ref = tf.tidy(() => referenceAttention(q, k, v, Bn, L, H).dataSync());
    assert.ok(maxAbsDiff(ours as Float32Array, ref as Float32Array) < 1e-5, 'forward');
    const g1 = tf.grads(f(multiHeadAttention))([q, k, v]);
    const g2 = tf.grads(f(referenceAttention))([q, k, v]);
    for (let i = 0; i < 3; i++) assert.ok(maxAbsDiff(g1[i]!.dataSync() as Float32Array, g2[i]!.dataSync() as Float32Array) < 1e-4, `gradient ${'qkv'[i]}`);
    tf.dispose([q, k, v, w, ...g1, ...g2]);
  }
});

test('config errors name the field', () => {
  assert.throws(() => new TransformerDenoiser(syn.layout, { ...base('pre'), strategy: 'film' as never }, new Rng(1)), /unknown conditioning strategy "film"/);
  assert.throws(() => new TransformerDenoiser(syn.layout, { ...base('pre'), width: 30 }, new Rng(1)), /width 30 is not divisible by heads 4/);
});
