import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, initBackend } from '../../src/runtime/backend.js';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { buildBank, type BuildBankOptions } from '../../src/bank/build.js';
import { indexPath, loadBank, readIndex, writeRegionVector, type BankEntry } from '../../src/bank/store.js';
import { formatBankInspect, inspectBank } from '../../src/bank/inspect.js';
import { decodeSafetensors } from '../../src/util/safetensors.js';
import { sourceSplit } from '../../src/data/splits.js';

await initBackend();
const cities = generateSyntheticCities({ seed: 21, cities: 2, nodes: [5, 4], days: 4 });
const root = mkdtempSync(join(tmpdir(), 'gpd-bank-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const base = (out: string): BuildBankOptions => ({
  cities,
  model: 'stgcn',
  epochs: 2,
  batchSize: 32,
  lr: 3e-3,
  weightDecay: 1e-2,
  patience: 3,
  groupSize: 2,
  workers: 0,
  seed: 4,
  init: 'random',
  dir: join(root, out),
  baseline: 'none',
  maxRegions: 3,
});

const withoutTimings = (e: BankEntry) => ({ ...e, timings: null });

let reference: ReturnType<typeof loadBank>;

test('builds a complete bank: index, one safetensors vector per region, flat tensor count', async () => {
  const before = tf.memory().numTensors;
  const r = await buildBank(base('full'));
  // The model caches a few constant tensors on its first forward; nothing else may remain.
  assert.ok(tf.memory().numTensors - before <= 16, `${tf.memory().numTensors - before} tensors left`);
  const afterFirst = tf.memory().numTensors;
  await buildBank(base('full-again'));
  assert.equal(tf.memory().numTensors, afterFirst, 'a second build leaves the tensor count unchanged');

  assert.equal(r.trained, 6);
  assert.equal(r.skipped, 0);
  const idx = readIndex(join(root, 'full'));
  assert.equal(idx.format, 'gpd-bank');
  assert.equal(idx.version, 1);
  assert.equal(idx.complete, true);
  assert.deepEqual(idx.cities.map((c) => [c.id, c.regions]), [['synth-a', 3], ['synth-b', 3]]);
  assert.equal(idx.settings.paramCount, 16960);
  assert.equal(idx.settings.baseline, 'none');
  assert.equal(idx.settings.layoutHash.length, 16);
  assert.deepEqual(idx.entries.map((e) => `${e.city}:${e.region}`), ['synth-a:0', 'synth-a:1', 'synth-a:2', 'synth-b:0', 'synth-b:1', 'synth-b:2']);
  for (const e of idx.entries) {
    assert.equal(e.init, 'random');
    assert.ok(e.val.mae > 0 && e.val.rmse >= e.val.mae && e.haVal.mae > 0 && e.train.mae > 0, JSON.stringify(e));
    assert.ok(e.epochsRun >= 1 && e.epochsRun <= 2);
    assert.equal(e.regionId, cities.find((c) => c.id === e.city)!.nodeIds[e.region]);
    const file = join(root, 'full', e.file);
    const st = decodeSafetensors(readFileSync(file), file);
    assert.deepEqual(st.tensors['params']!.shape, [16960]);
    assert.equal(st.metadata['layoutHash'], idx.settings.layoutHash);
  }
  reference = loadBank(join(root, 'full'));
  assert.equal(reference.vectors.length, 6);
  assert.equal(reference.complete, true);
  assert.equal(reference.shared, null);
  // Same settings, fresh folder: identical vectors (determinism of the whole build).
  assert.deepEqual(loadBank(join(root, 'full-again')).vectors, reference.vectors);
});

test('an interrupted build resumes and ends with the same bank, bit for bit', async () => {
  const opts = base('resumed');
  const ac = new AbortController();
  // Abort once two regions are stored (the overall progress event follows each stored region).
  await assert.rejects(
    buildBank({ ...opts, signal: ac.signal, onProgress: (e) => { if (e.lane === undefined && e.done === 2 && e.task === 'bank stgcn') ac.abort(); } }),
    (e: Error) => e.name === 'Cancelled' && /2\/6 regions stored/.test(e.message),
  );
  const partial = readIndex(opts.dir);
  assert.equal(partial.complete, false);
  assert.equal(partial.entries.length, 2);

  // Interrupt again, this time in the middle of a region's training (its work is discarded).
  const ac2 = new AbortController();
  await assert.rejects(
    buildBank({ ...opts, signal: ac2.signal, onProgress: (e) => { if (e.lane === 0 && e.done === 1) ac2.abort(); } }),
    (e: Error) => e.name === 'Cancelled',
  );
  assert.equal(readIndex(opts.dir).entries.length, 2);
  // A stale temp file from a killed atomic write is cleaned up on resume.
  const stale = join(opts.dir, 'regions', 'synth-a', '.r2.safetensors.123.456.tmp');
  writeFileSync(stale, 'partial');

  const r = await buildBank(opts);
  assert.equal(r.skipped, 2);
  assert.equal(r.trained, 4);
  assert.equal(existsSync(stale), false);
  const resumed = loadBank(opts.dir);
  assert.equal(resumed.complete, true);
  assert.equal(resumed.vectors.length, reference.vectors.length);
  resumed.vectors.forEach((v, i) => assert.deepEqual(v, reference.vectors[i], `vector ${i} differs`));
  assert.deepEqual(resumed.entries.map(withoutTimings), reference.entries.map(withoutTimings));
});

test('a folder holding a bank with other settings is refused', async () => {
  await assert.rejects(buildBank({ ...base('full'), epochs: 3 }), (e: Error) => e.message.includes('full') && /different settings \(epochs: 2 -> 3\)/.test(e.message));
  await assert.rejects(buildBank({ ...base('full'), cities: [cities[0]!] }), /different settings \(cities: synth-a,synth-b -> synth-a/);
  // The value encoding is part of what a vector means: a bank of one encoding never resumes as another.
  await assert.rejects(buildBank({ ...base('full'), baseline: 'seasonal-ar' }), /different settings \(baseline: "none" -> "seasonal-ar"\)/);
  await assert.rejects(buildBank({ ...base('x'), groupSize: 0 }), /groupSize must be a positive integer/);
  await assert.rejects(buildBank({ ...base('y'), batchSize: 0 }), /batchSize must be a positive integer, got 0/);
  assert.throws(() => loadBank(join(root, 'nothing-here')), /nothing-here is not a parameter bank/);
});

test('warm init: the shared model is trained once, stored, and is every region\'s starting point', async () => {
  const opts: BuildBankOptions = { ...base('warm'), init: 'warm', epochs: 0, sharedEpochs: 2 };
  await buildBank(opts);
  const bank = loadBank(opts.dir);
  assert.ok(bank.shared, 'shared model stored');
  assert.equal(bank.index.shared!.file, 'shared.safetensors');
  assert.ok(bank.index.shared!.val.mae > 0);
  assert.ok(bank.index.shared!.epochsRun === 2);
  // Zero per-region epochs: every region keeps the shared vector exactly.
  for (const v of bank.vectors) assert.deepEqual(v, bank.shared);
  assert.ok(bank.entries.every((e) => e.init === 'warm' && e.bestEpoch === 0));
  // The shared model was trained, not left at a random init shared with the other bank.
  assert.notDeepEqual(bank.shared, reference.vectors[0]);
});

test('a build killed inside the shared model resumes at its last finished epoch, bit-identical to an uninterrupted one', async () => {
  const warm: BuildBankOptions = { ...base('shared-whole'), init: 'warm', epochs: 0, sharedEpochs: 3 };
  await buildBank(warm);
  const whole = loadBank(warm.dir);

  const opts: BuildBankOptions = { ...warm, dir: join(root, 'shared-killed') };
  const ckpt = join(opts.dir, 'shared.checkpoint.safetensors');
  const ac = new AbortController();
  let sawCheckpoint = false;
  // Abort in the middle of epoch 2: epoch 1's checkpoint is on disk by then.
  const midEpoch2 = (e: { task: string; done: number }) => {
    if (e.task.endsWith('shared model') && e.done > 1 && e.done < 2 && !ac.signal.aborted) {
      sawCheckpoint = existsSync(ckpt);
      ac.abort();
    }
  };
  await assert.rejects(buildBank({ ...opts, signal: ac.signal, onProgress: midEpoch2 }), (e: Error) => e.name === 'Cancelled');
  assert.ok(sawCheckpoint, 'a checkpoint was written after epoch 1');
  assert.ok(existsSync(ckpt) && !existsSync(join(opts.dir, 'shared.safetensors')));
  // The checkpoint is work kept: a build with other settings does not overwrite it.
  await assert.rejects(buildBank({ ...opts, sharedEpochs: 4 }), /different settings \(sharedEpochs: 3 -> 4\)/);

  const epochsSeen: number[] = [];
  await buildBank({ ...opts, onProgress: (e) => { if (e.task.endsWith('shared model') && Number.isInteger(e.done)) epochsSeen.push(e.done); } });
  assert.deepEqual(epochsSeen, [2, 3], 'the resumed fit runs only the epochs left');
  assert.equal(existsSync(ckpt), false, 'the checkpoint is removed once the shared model is stored');
  const resumed = loadBank(opts.dir);
  assert.deepEqual(resumed.shared, whole.shared);
  assert.deepEqual({ ...resumed.index.shared!, timings: null }, { ...whole.index.shared!, timings: null });
});

test('a bank on the seasonal baseline records it; an index written before the field existed reads as none', async () => {
  const opts: BuildBankOptions = { ...base('seasonal'), epochs: 1, maxRegions: 2, baseline: 'seasonal-ar' };
  await buildBank(opts);
  const bank = loadBank(opts.dir);
  assert.equal(bank.settings.baseline, 'seasonal-ar');
  assert.ok(bank.entries.every((e) => Number.isFinite(e.val.mae) && e.val.mae > 0));
  assert.match(formatBankInspect(inspectBank(opts.dir)), /baseline seasonal-ar/);
  const file = join(opts.dir, 'index.json');
  const legacy = JSON.parse(readFileSync(file, 'utf8')) as { settings: Record<string, unknown> };
  delete legacy.settings['baseline'];
  writeFileSync(file, JSON.stringify(legacy));
  assert.equal(readIndex(opts.dir).settings.baseline, 'none');
});

test('inspect: distributions, parameter statistics and the beats-historical-average share', () => {
  const s = inspectBank(join(root, 'full'));
  assert.equal(s.regions, 6);
  assert.equal(s.model, 'stgcn');
  const es = reference.entries;
  const share = es.filter((e) => e.val.mae < e.haVal.mae).length / es.length;
  assert.equal(s.beatsHistoricalAverage, share);
  const maes = es.map((e) => e.val.mae).sort((a, b) => a - b);
  assert.equal(s.valMae.min, maes[0]);
  assert.equal(s.valMae.max, maes[5]);
  assert.ok(Math.abs(s.valMae.median - (maes[2]! + maes[3]!) / 2) < 1e-12);
  const all = reference.vectors.flatMap((v) => Array.from(v));
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  assert.ok(Math.abs(s.params.mean - mean) < 1e-9);
  assert.equal(s.params.max, Math.max(...all.slice(0, 16960 * 2), ...all.slice(16960 * 2)));
  assert.equal(s.perTensor.length, 11);
  assert.equal(s.perTensor.reduce((a, t) => a + t.size, 0), 16960);
  assert.deepEqual(s.perCity.map((c) => [c.city, c.regions]), [['synth-a', 3], ['synth-b', 3]]);
  const text = formatBankInspect(s);
  const last = text.trim().split('\n').pop()!;
  assert.equal(last, `beats-historical-average: ${share.toFixed(2)}`);
  // The digest: sha256 over the vectors' bytes in region order; an identical rebuild has the same one.
  const expected = createHash('sha256').update(Buffer.concat(reference.vectors.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)))).digest('hex');
  assert.equal(s.digest, expected);
  assert.equal(inspectBank(join(root, 'full-again')).digest, expected);
  assert.equal(text.trim().split('\n').at(-2), `digest: ${expected}`);
  assert.match(last, /^beats-historical-average: \d\.\d\d$/);
  assert.equal(s.unvalidated, 0);
  assert.doesNotMatch(text, /no observed validation target/);
});

test('inspect: a region without validation targets (NaN val metrics, null in JSON) reads back as NaN, is left out of the distributions and does not count as beating HA', () => {
  const dir = join(root, 'unvalidated');
  cpSync(join(root, 'full'), dir, { recursive: true });
  // What a region with no observed validation target writes (bank/train-region.ts): NaN val metrics,
  // which JSON stores as null, against an HA no real MAE is above (a null, comparing as 0, would "beat" it).
  const first = reference.entries[0]!;
  const blind: BankEntry = { ...first, val: { mae: NaN, rmse: NaN }, haVal: { ...first.haVal, mae: 1e9 }, valCurve: [NaN, NaN] };
  writeRegionVector(dir, blind, reference.vectors[0]!, reference.settings.layoutHash);
  const idx = readIndex(dir);
  writeFileSync(indexPath(dir), JSON.stringify({ ...idx, entries: idx.entries.map((e) => (e.file === blind.file ? blind : e)) }));
  assert.match(readFileSync(indexPath(dir), 'utf8'), /"val":\{"mae":null,"rmse":null\}/);
  for (const back of [readIndex(dir).entries.find((e) => e.file === blind.file)!, loadBank(dir).entries[0]!]) {
    assert.equal(back.file, blind.file);
    assert.ok(Number.isNaN(back.val.mae) && Number.isNaN(back.val.rmse), 'null val metrics read back as NaN');
    assert.ok(back.valCurve!.every(Number.isNaN));
  }
  const s = inspectBank(dir);
  assert.equal(s.unvalidated, 1);
  const rest = reference.entries.slice(1);
  assert.equal(s.beatsHistoricalAverage, rest.filter((e) => e.val.mae < e.haVal.mae).length / 6);
  const maes = rest.map((e) => e.val.mae).sort((a, b) => a - b);
  assert.equal(s.valMae.min, maes[0]);
  assert.equal(s.valMae.max, maes[4]);
  assert.equal(s.valMae.median, maes[2]);
  assert.match(formatBankInspect(s), /1 region\(s\) have no observed validation target/);
});

test("encodingFitDays: a warm bank trained on 2-day encoding blocks records them, differs from the whole-part bank, and will not resume under the other setting", async () => {
  const opts = { ...base('blocks'), baseline: 'seasonal-ar' as const, init: 'warm' as const, sharedEpochs: 1, encodingFitDays: 2, maxRegions: 2 };
  await buildBank(opts);
  const idx = readIndex(opts.dir);
  assert.equal(idx.settings.encodingFitDays, 2);
  assert.equal(idx.complete, true);
  for (const e of idx.entries) assert.ok(e.val.mae > 0 && Number.isFinite(e.haVal.mae) && e.steps > 0, JSON.stringify(e));
  const whole = { ...opts, dir: join(root, 'whole-part') };
  delete (whole as Partial<typeof whole>).encodingFitDays;
  await buildBank(whole);
  assert.equal(readIndex(whole.dir).settings.encodingFitDays, null);
  assert.notDeepEqual(loadBank(opts.dir).vectors[0], loadBank(whole.dir).vectors[0], 'the blocks change what the models learn');
  await assert.rejects(buildBank({ ...opts, encodingFitDays: 1 }), /different settings \(.*encodingFitDays/);
});

test('a region with no observed validation target is reported once by the build, through a worker too, and keeps the last epoch', async () => {
  const city = cities[0]!;
  const { T, N, F } = city;
  const mask = city.mask ? city.mask.slice() : new Uint8Array(T * N * F).fill(1);
  const val = sourceSplit(city).val;
  for (let t = val.start; t < val.end; t++) for (let f = 0; f < F; f++) mask[(t * N + 1) * F + f] = 0;
  const blind = { ...city, mask };
  for (const workers of [0, 1]) {
    const warnings: string[] = [];
    await buildBank({ ...base(`blind-${workers}`), cities: [blind], workers, onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1, `workers ${workers}: ${warnings.join(' | ')}`);
    assert.match(warnings[0]!, new RegExp(`${city.id} region ${city.nodeIds[1]}: the validation part has no observed target`));
    const entry = loadBank(join(root, `blind-${workers}`)).entries.find((e) => e.region === 1)!;
    assert.equal(entry.epochsRun, 2);
    assert.equal(entry.bestEpoch, 2);
    assert.ok(Number.isNaN(entry.val.mae));
  }
});
