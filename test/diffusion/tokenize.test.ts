import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/runtime/backend.js';
import { ParamLayout } from '../../src/models/layout.js';
import { Rng } from '../../src/util/prng.js';
import { Tokenizer, clipRangeFromBank, denormalize, fitNormalizer, normalize } from '../../src/diffusion/tokenize.js';

await initBackend();

const layout = new ParamLayout('toy', [
  { name: 'tconv.w', shape: [5, 7], init: { kind: 'uniform', bound: 1 }, role: 'temporal' }, // 35
  { name: 'theta', shape: [4, 10], init: { kind: 'uniform', bound: 1 }, role: 'spatial' }, // 40
  { name: 'head.b', shape: [3], init: { kind: 'const', value: 0 }, role: 'head' }, // 3
]);
const ramp = Float32Array.from({ length: layout.size }, (_, i) => i + 1);

test('reference tokenisation: token i holds positions c * L + i, zero padded, exact round trip', () => {
  const tok = new Tokenizer(layout, { kind: 'reference', channels: 8 });
  assert.equal(tok.numTokens, Math.ceil(78 / 8)); // 10 tokens, 2 padding values
  assert.equal(tok.tokenSize, 8);
  const tokens = tok.tokensOf(ramp);
  const L = tok.numTokens;
  for (let i = 0; i < L; i++) {
    for (let c = 0; c < 8; c++) {
      const p = c * L + i;
      assert.equal(tokens[i]![c], p < 78 ? ramp[p] : 0, `token ${i} channel ${c}`);
    }
  }
  const x = tf.tensor2d([...ramp, ...ramp.map((v) => -v)], [2, 78]);
  const back = tok.fromTokens(tok.toTokens(x), 2);
  assert.deepEqual(Array.from(back.dataSync()), Array.from(x.dataSync()));
  // Spatial tokens: any position of 'theta' (35..74) in the column.
  for (let i = 0; i < L; i++) {
    let expected = 0;
    for (let c = 0; c < 8; c++) if (c * L + i >= 35 && c * L + i < 75) expected = 1;
    assert.equal(tok.spatialMask[i], expected, `spatial mask of token ${i}`);
  }
  tf.dispose([x, back]);
});

test('layer-aware tokenisation never mixes entries, pads each entry, records entry and chunk', () => {
  const tok = new Tokenizer(layout, { kind: 'layer-aware', tokenSize: 16 });
  // 35 -> 3 tokens, 40 -> 3 tokens, 3 -> 1 token
  assert.equal(tok.numTokens, 7);
  assert.deepEqual(Array.from(tok.entryOfToken), [0, 0, 0, 1, 1, 1, 2]);
  assert.deepEqual(Array.from(tok.chunkOfToken), [0, 1, 2, 0, 1, 2, 0]);
  assert.deepEqual(Array.from(tok.spatialMask), [0, 0, 0, 1, 1, 1, 0]);
  assert.equal(tok.maxChunks, 3);
  const tokens = tok.tokensOf(ramp);
  // Last chunk of tconv.w holds values 33..35 then zeros; theta starts a fresh token at value 36.
  assert.deepEqual(Array.from(tokens[2]!), [33, 34, 35, ...new Array(13).fill(0)]);
  assert.equal(tokens[3]![0], 36);
  assert.deepEqual(Array.from(tokens[6]!), [76, 77, 78, ...new Array(13).fill(0)]);
  const x = tf.tensor2d(ramp, [1, 78]);
  const back = tok.fromTokens(tok.toTokens(x), 1);
  assert.deepEqual(Array.from(back.dataSync()), Array.from(ramp));
  tf.dispose([x, back]);
});

test('fromTokens is differentiable on the wasm backend (gradient routes to the right token slots)', () => {
  for (const spec of [{ kind: 'reference', channels: 8 } as const, { kind: 'layer-aware', tokenSize: 16 } as const]) {
    const tok = new Tokenizer(layout, spec);
    const tokens = tok.toTokens(tf.tensor2d(ramp, [1, 78]));
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tok.fromTokens(t as tf.Tensor2D, 1), tf.tensor2d(ramp, [1, 78]))))(tokens);
    // d/d token = the value that token slot carries (ramp), 0 on padding: i.e. the tokens themselves.
    assert.deepEqual(Array.from(g.dataSync()), Array.from(tokens.dataSync()), spec.kind);
    tf.dispose([tokens, g]);
  }
});

test('normaliser: per-position mean/std with a floor; clip range covers the bank, wider than it', () => {
  const rng = new Rng(3);
  const bank = Array.from({ length: 20 }, () => {
    const v = rng.normalArray(78, 2, 0.5);
    v[77] = 1; // a constant position (e.g. a norm's 1)
    return v;
  });
  const n = fitNormalizer(bank);
  let m0 = 0;
  for (const v of bank) m0 += v[5]! / 20;
  let s0 = 0;
  for (const v of bank) s0 += (v[5]! - m0) ** 2 / 19;
  assert.ok(Math.abs(n.mean[5]! - m0) < 1e-6);
  assert.ok(Math.abs(n.std[5]! - Math.sqrt(s0)) < 1e-6);
  assert.ok(n.std[77]! > 0.04 && n.std[77]! < 0.06, `floored std ${n.std[77]} should be 0.1 x median (~0.05)`);
  const z = normalize(n, bank[0]!);
  const back = denormalize(n, z);
  for (let p = 0; p < 78; p++) assert.ok(Math.abs(back[p]! - bank[0]![p]!) < 1e-5);
  const clip = clipRangeFromBank(n, bank);
  for (const v of bank) {
    const zz = normalize(n, v);
    for (let p = 0; p < 78; p++) assert.ok(zz[p]! > clip.min[p]! && zz[p]! < clip.max[p]!);
  }
  // Widened by half the range on each side: typical z-scores span ~[-2, 2] -> clip ~[-4, 4].
  assert.ok(clip.max[5]! > 3 && clip.min[5]! < -3, `clip [${clip.min[5]}, ${clip.max[5]}]`);
});
