import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { tf, initBackend, useBackend } from '../../src/runtime/backend.js';
import { createStgcn, stgcnReferenceMapping, stgcnReferenceOrder } from '../../src/models/stgcn.js';
import {
  convWeightOursToRef,
  convWeightRefToOurs,
  fromReferenceFlat,
  fromReferenceParameters,
  loadReferenceFixture,
  referenceOrderOf,
  toReferenceFlat,
} from '../../src/models/reference.js';
import { Rng } from '../../src/util/prng.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixturePath = path.resolve(projectRoot, '../shared/fixtures/reference-models/stgcn_nonbias.json');

before(async () => {
  await initBackend();
});

function referenceFlat(fx: ReturnType<typeof loadReferenceFixture>): Float32Array {
  const parts = fx.parameterOrder.map((name) => fx.parameters[name]!.data);
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

test('fixture parity: reference weights through the mapping reproduce the reference output (wasm and cpu)', async () => {
  const fx = loadReferenceFixture(fixturePath);
  assert.equal(fx.model, 'stgcn_nonbias');
  const model = createStgcn();
  const flat = fromReferenceParameters(model.layout, stgcnReferenceMapping, fx.parameters);
  const errors: Record<string, number> = {};
  for (const backend of ['wasm', 'cpu'] as const) {
    await useBackend(backend);
    for (const conv of ['toeplitz', 'im2col'] as const) {
      const m = createStgcn({}, { conv });
      const y = tf.tidy(() =>
        m
          .forward(
            tf.tensor1d(flat),
            tf.tensor4d(fx.input.data, fx.input.shape as [number, number, number, number]),
            tf.tensor2d(fx.adjacency.data, fx.adjacency.shape as [number, number]),
          )
          .dataSync(),
      );
      assert.equal(y.length, fx.output.data.length);
      let err = 0;
      for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i]! - fx.output.data[i]!));
      errors[`${backend}/${conv}`] = err;
    }
  }
  await useBackend('wasm');
  if (process.env.GPD_TEST_VERBOSE) console.log(`[reference-stgcn.test] max abs error: ${JSON.stringify(errors)}`);
  // measured: 1.3e-7 (wasm), 1.1e-7 (cpu) on outputs of magnitude up to 0.26
  for (const [k, err] of Object.entries(errors)) assert.ok(err <= 1e-4, `${k}: max abs error ${err}`);
});

test('reference flat order <-> our flat vector round-trips exactly', () => {
  const fx = loadReferenceFixture(fixturePath);
  const layout = createStgcn().layout;
  const order = referenceOrderOf(fx);
  assert.equal(order.length, 11);
  assert.deepEqual(stgcnReferenceOrder(), order, 'the order export writes is the reference\'s');
  const refFlat = referenceFlat(fx);
  assert.equal(refFlat.length, 16960);
  const ours = fromReferenceFlat(layout, stgcnReferenceMapping, refFlat, order);
  assert.deepEqual(ours, fromReferenceParameters(layout, stgcnReferenceMapping, fx.parameters));
  assert.deepEqual(toReferenceFlat(layout, stgcnReferenceMapping, ours, order), refFlat);
  // ours -> reference -> ours, from a fresh init
  const fresh = layout.init(new Rng(5));
  const back = fromReferenceFlat(layout, stgcnReferenceMapping, toReferenceFlat(layout, stgcnReferenceMapping, fresh, order), order);
  assert.deepEqual(back, fresh);
  // The layouts differ in order and shape, so the round trip is not the identity by accident.
  assert.notDeepEqual(ours, refFlat);
});

test('conv weight conversion puts W[o, i, 0, k] at our [k, i, o]', () => {
  const [O, I, K] = [3, 2, 4];
  const ref = Float32Array.from({ length: O * I * K }, (_, j) => j);
  const ours = convWeightRefToOurs(ref, [O, I, 1, K]);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++) for (let k = 0; k < K; k++) assert.equal(ours[(k * I + i) * O + o], ref[(o * I + i) * K + k]);
  assert.deepEqual(convWeightOursToRef(ours, [K, I, O]), ref);
});

test('errors name the file or tensor at fault', () => {
  const layout = createStgcn().layout;
  const fx = loadReferenceFixture(fixturePath);
  const order = referenceOrderOf(fx);
  assert.throws(() => fromReferenceFlat(layout, stgcnReferenceMapping, new Float32Array(16959), order), /16959 values; its order \(11 tensors\) needs 16960/);
  assert.throws(() => fromReferenceParameters(layout, stgcnReferenceMapping.slice(1), fx.parameters), /entries without a source: block1\.Theta1/);
  const { ['fully.weight']: _dropped, ...partial } = fx.parameters;
  assert.throws(() => fromReferenceParameters(layout, stgcnReferenceMapping, partial), /lack "fully\.weight"/);
  const dir = mkdtempSync(path.join(tmpdir(), 'gpd-ref-'));
  try {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ parameter_order: ['a'], parameters: { a: { shape: [2, 2], data: [1, 2, 3] } } }));
    assert.throws(() => loadReferenceFixture(bad), (e: Error) => e.message.includes(bad) && /"parameters\.a" has 3 values but shape \[2,2\] needs 4/.test(e.message));
    assert.throws(() => loadReferenceFixture(path.join(dir, 'missing.json')), /missing\.json: cannot read reference fixture/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
