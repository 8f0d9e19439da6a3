/**
 * `gpd export`: every region's model under the reference implementation's names and shapes (STGCN and
 * Graph WaveNet), exact back through the interop mapping, and a model card that holds what a user needs
 * to run the models outside gpd: checked by recomputing a forecast from the card and the files alone.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tf } from '../../src/runtime/backend.js';
import { createForecaster, referenceInterop } from '../../src/models/registry.js';
import { fromReferenceParameters, loadReferenceFixture, referenceOrderOf } from '../../src/models/reference.js';
import { readSafetensors } from '../../src/util/safetensors.js';
import { exportRun } from '../../src/transfer/export.js';
import { loadRunModels } from '../../src/transfer/forecast.js';
import { makeRunFixture, type RunFixture } from './run-fixture.js';

const root = resolve(new URL('../..', import.meta.url).pathname);
const dir = mkdtempSync(join(tmpdir(), 'gpd-export-'));
let fx: RunFixture;

before(async () => {
  fx = await makeRunFixture(join(dir, 'run'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const asParameters = (tensors: ReturnType<typeof readSafetensors>['tensors']) =>
  Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }]));

test('STGCN: every region as STGCN_NonBias tensors (the fixture\'s names and shapes), exact back to the run\'s models', () => {
  const out = join(dir, 'out');
  const r = exportRun(fx.dir, out);
  assert.equal(r.files.length, fx.regions.length);
  const models = loadRunModels(fx.dir);
  const reference = referenceOrderOf(loadReferenceFixture(resolve(root, '../shared/fixtures/reference-models/stgcn_nonbias.json')));
  const layout = createForecaster('stgcn').layout;
  const card = JSON.parse(readFileSync(r.card, 'utf8'));
  for (const region of card.regions) {
    const { tensors, metadata } = readSafetensors(join(r.dir, region.file));
    assert.deepEqual(Object.entries(tensors).map(([name, t]) => ({ name, shape: t.shape })), reference);
    assert.equal(metadata['region'], region.id);
    assert.equal(metadata['method'], 'gpd');
    const back = fromReferenceParameters(layout, referenceInterop('stgcn').mapping, asParameters(tensors));
    assert.deepEqual(back, models.params('gpd', region.index));
  }
});

test('the model card holds the model, regions and subgraphs, encoding, training range, metrics and loading notes; a forecast recomputed from it alone matches', () => {
  const out = join(dir, 'card');
  const r = exportRun(fx.dir, out, { method: 'gpd_zero_shot' });
  const card = JSON.parse(readFileSync(r.card, 'utf8'));
  assert.equal(card.model.referenceClass, 'STGCN_NonBias');
  assert.equal(card.model.parameterCount, 16960);
  assert.equal(card.method.name, 'gpd_zero_shot');
  assert.equal(card.city.intervalMinutes, 30);
  assert.deepEqual(card.regions.map((g: { id: string }) => g.id), fx.regions.map((i) => fx.target.nodeIds[i]));
  assert.equal(card.training.fewShotDays, 3);
  assert.equal(card.training.fewShot.start, fx.prep.split.fewShot.start);
  assert.equal(card.training.fewShot.from, new Date(fx.target.timestamps![fx.prep.split.fewShot.start]!).toISOString());
  assert.ok(card.metrics.gpd_zero_shot.mae > 0 && card.metrics.seasonal_baseline.mae > 0);
  assert.equal(card.normalisation.std, fx.prep.norm.std);
  assert.deepEqual(card.baseline.persistence, fx.prep.norm.baseline!.persistence);
  assert.match(card.howToLoad.join('\n'), /load_state_dict\(load_file\(path\)\)/);

  // Recompute region 0's first test-window prediction the way the card describes, from the card and its file.
  const g = card.regions[0];
  const p = fx.predictions[0]!;
  const start = p.starts[0]!;
  const t = fx.target;
  const b = card.baseline;
  const slot = (step: number) => Math.round((((t.timestamps![step]! % 86_400_000) + 86_400_000) % 86_400_000) / 86_400_000 * b.slotsPerDay) % b.slotsPerDay;
  const nodes: number[] = g.nodes.map((id: string) => t.nodeIds.indexOf(id));
  const x = new Float32Array(nodes.length * 12 * 2);
  nodes.forEach((node, a) => {
    for (let k = 0; k < 12; k++) {
      const s = start + k;
      x[(a * 12 + k) * 2] = (t.series[s * t.N + node]! - b.profile[slot(s)][node] - card.normalisation.mean) / card.normalisation.std;
      x[(a * 12 + k) * 2 + 1] = ((t.timestamps![s]! % 86_400_000) / 86_400_000);
    }
  });
  const model = createForecaster('stgcn');
  const params = fromReferenceParameters(model.layout, referenceInterop('stgcn').mapping, asParameters(readSafetensors(join(r.dir, g.file)).tensors));
  const z = tf.tidy(() => model.forward(tf.tensor1d(params), tf.tensor4d(x, [1, nodes.length, 12, 2]), tf.tensor2d(g.adjacency.flat(), [nodes.length, nodes.length])).dataSync());
  const last = x[(11) * 2]!;
  for (let h = 0; h < 6; h++) {
    const offset = card.normalisation.mean + b.profile[slot(start + 12 + h)][nodes[0]!] + b.persistence[h] * last * card.normalisation.std;
    // Clamped to the region's correctionBound, as the card says gpd does.
    const forecast = Math.min(Math.max(z[h]! * card.normalisation.std + offset, offset + g.correctionBound.lo), offset + g.correctionBound.hi);
    assert.ok(Math.abs(forecast - p.preds.gpd_zero_shot![h]!) < 1e-3, `h${h + 1}: ${forecast} vs ${p.preds.gpd_zero_shot![h]}`);
  }
});

test('Graph WaveNet: v_GWN names and shapes (91,904 values with the unused residual convs as zeros), exact back; gpd export on the command line', async () => {
  const gwnRun = join(dir, 'gwn-run');
  await makeRunFixture(gwnRun, ['bank.model=gwn', 'data.maxTargetRegions=2'], ['gpd_zero_shot']);
  const gpd = spawnSync(process.execPath, [join(root, 'bin/gpd.js'), 'export', '--run', gwnRun, '--out', join(dir, 'gwn-out'), '--method', 'gpd_zero_shot'], { cwd: root, encoding: 'utf8' });
  assert.equal(gpd.status, 0, gpd.stderr);
  assert.match(gpd.stdout, /wrote 2 region models \(gpd_zero_shot\)/);
  const card = JSON.parse(readFileSync(join(dir, 'gwn-out/synth-d/model-card.json'), 'utf8'));
  assert.equal(card.model.referenceClass, 'v_GWN');
  assert.match(card.howToLoad.join('\n'), /residual_convs\.0\.weight.* written as zeros/);
  const { tensors } = readSafetensors(join(dir, 'gwn-out/synth-d', card.regions[0].file));
  assert.equal(Object.values(tensors).reduce((s, t) => s + t.data.length, 0), 91_904);
  assert.ok((tensors['residual_convs.3.weight']!.data as Float32Array).every((v) => v === 0));
  const back = fromReferenceParameters(createForecaster('gwn').layout, referenceInterop('gwn').mapping, asParameters(tensors));
  assert.deepEqual(back, loadRunModels(gwnRun).params('gpd_zero_shot', card.regions[0].index));
  const bad = spawnSync(process.execPath, [join(root, 'bin/gpd.js'), 'export', '--run', gwnRun, '--out', join(dir, 'x'), '--method', 'gpd'], { cwd: root, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /method "gpd" has no models .*available: gpd_zero_shot/);
});
