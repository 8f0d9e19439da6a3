import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initBackend, useBackend, type BackendName } from '../../src/runtime/backend.js';
import { createGwn, gwnReferenceMapping, gwnReferenceOrder } from '../../src/models/gwn.js';
import {
  fromReferenceFlat,
  fromReferenceParameters,
  loadReferenceFixture,
  referenceOrderOf,
  toReferenceFlat,
  type ReferenceFixture,
} from '../../src/models/reference.js';
import { Rng } from '../../src/util/prng.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixturePath = path.resolve(projectRoot, '../shared/fixtures/reference-models/gwn.json');

const gwn = createGwn();
let fixture: ReferenceFixture;

before(async () => {
  await initBackend();
  fixture = loadReferenceFixture(fixturePath);
});

function runFixture(params: Float32Array): Float32Array {
  return tf.tidy(() => {
    const [B, n, T, F] = fixture.input.shape as [number, number, number, number];
    const out = gwn.forward(
      tf.tensor1d(params),
      tf.tensor4d(fixture.input.data, [B, n, T, F]),
      tf.tensor2d(fixture.adjacency.data, [n, n]),
    );
    assert.deepEqual(out.shape, fixture.output.shape);
    return out.dataSync() as Float32Array;
  });
}

test('fixture is the eval-mode reference with fresh batch-norm statistics (what the affine mode reproduces)', () => {
  assert.equal(fixture.mode, 'eval');
  for (let i = 0; i < 8; i++) {
    assert.ok(fixture.buffers[`bn.${i}.running_mean`]!.data.every((v) => v === 0));
    assert.ok(fixture.buffers[`bn.${i}.running_var`]!.data.every((v) => v === 1));
  }
});

test('reference order and sizes: 91,904 reference values, 83,712 of them used by the forward', () => {
  assert.deepEqual(gwnReferenceOrder(), referenceOrderOf(fixture));
  const total = gwnReferenceOrder().reduce((s, r) => s + r.shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(total, 91_904);
  assert.equal(gwn.layout.size, 83_712);
  assert.equal(total - gwn.layout.size, 8 * 32 * 32); // the never-used residual convs
});

test('parity with the PyTorch reference output on wasm and cpu (max abs error <= 1e-4)', async () => {
  const params = fromReferenceParameters(gwn.layout, gwnReferenceMapping(), fixture.parameters);
  const ref = fixture.output.data;
  const maxRef = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(maxRef > 0.5, 'fixture output is not trivially small');
  try {
    for (const backend of ['wasm', 'cpu'] as BackendName[]) {
      await useBackend(backend);
      const out = runFixture(params);
      const err = out.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i]!)), 0);
      console.log(`parity ${backend}: max abs error ${err}`);
      // Measured: 4.8e-7 (wasm), 2.4e-7 (cpu).
      assert.ok(err <= 1e-4, `${backend}: max abs error ${err}`);
    }
  } finally {
    await useBackend('wasm');
  }
  // The mapping matters: a wrongly oriented weight breaks parity (transposing one graph conv weight).
  const broken = fromReferenceParameters(gwn.layout, gwnReferenceMapping(), {
    ...fixture.parameters,
    'gconv.0.mlp.mlp.weight': { shape: [32, 160, 1, 1], data: fixture.parameters['gconv.0.mlp.mlp.weight']!.data.slice().reverse() },
  });
  const out = runFixture(broken);
  assert.ok(out.some((v, i) => Math.abs(v - ref[i]!) > 1e-2));
});

test('reference flat import/export round trips exactly; the unused residual convs export as zeros', () => {
  const order = referenceOrderOf(fixture);
  const refFlat = new Float32Array(91_904);
  let offset = 0;
  for (const r of order) {
    refFlat.set(fixture.parameters[r.name]!.data, offset);
    offset += fixture.parameters[r.name]!.data.length;
  }
  const mapping = gwnReferenceMapping();
  const ours = fromReferenceFlat(gwn.layout, mapping, refFlat, order);
  assert.deepEqual(ours, fromReferenceParameters(gwn.layout, mapping, fixture.parameters));
  const back = toReferenceFlat(gwn.layout, mapping, ours, order);
  offset = 0;
  for (const r of order) {
    const size = r.shape.reduce((a, b) => a * b, 1);
    const got = back.subarray(offset, offset + size);
    if (r.name.startsWith('residual_convs.')) assert.ok(got.every((v) => v === 0), r.name);
    else assert.deepEqual(got, refFlat.subarray(offset, offset + size), r.name);
    offset += size;
  }
  // Ours -> reference -> ours is exact for any vector.
  const random = gwn.layout.init(new Rng(17));
  assert.deepEqual(fromReferenceFlat(gwn.layout, mapping, toReferenceFlat(gwn.layout, mapping, random, order), order), random);
  // Layouts agree entry by entry on what a PyTorch [out, in, 1, k] weight means.
  const filter = fixture.parameters['filter_convs.3.weight']!.data; // [32, 32, 1, 2]
  const ourFilter = gwn.layout.view(ours, 'filter.3'); // [2, 32, 32] = [tap, in, out]
  assert.equal(ourFilter[(1 * 32 + 5) * 32 + 7], filter[(7 * 32 + 5) * 2 + 1]);
  const gconv = fixture.parameters['gconv.2.mlp.mlp.weight']!.data; // [32, 160, 1, 1]
  assert.equal(gwn.layout.view(ours, 'gconv.2')[100 * 32 + 9], gconv[9 * 160 + 100]);
});
