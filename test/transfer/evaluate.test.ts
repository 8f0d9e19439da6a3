import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/runtime/backend.js';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { Rng } from '../../src/util/prng.js';
import { EVALUATION_VERSION, evaluateTarget, type EvaluateOptions, type Method } from '../../src/transfer/evaluate.js';
import { readSafetensors, writeSafetensors } from '../../src/util/safetensors.js';
import { gpdRowsScale, gpdRowsTag, readEvalRegion } from '../../src/transfer/eval-file.js';
import { predictWindows, pooledMetrics } from '../../src/train/predict.js';
import { targetRegion } from '../../src/train/target.js';
import { boundForecasts, fewShotCorrectionRange } from '../../src/train/correction-bound.js';
import { maskedMetrics } from '../../src/metrics/metrics.js';
import { createForecaster } from '../../src/models/registry.js';
import { prepareTarget } from '../../src/train/target.js';

await initBackend();

const cities = generateSyntheticCities({ seed: 9, cities: 1, nodes: 6, days: 14 });
const prep = prepareTarget(cities[0]!, 3, 0, 'seasonal-ar', 'tail');
const model = createForecaster('stgcn');
// An init whose correction is 40 times too large: what a transferred model looks like on a new city.
const oversized = model.layout.init(new Rng(6).fork('oversized'));
model.layout.view(oversized, model.outputLayer).forEach((v, i, a) => (a[i] = v * 40));

function options(dir: string, methods: readonly Method[]): EvaluateOptions {
  return {
    model,
    prep,
    regions: [1, 3],
    inits: { shared: oversized, bankMean: oversized, nearest: () => oversized, generated: () => oversized },
    finetune: { epochs: 1, batchSize: 32, lr: 1e-4, weightDecay: 0, patience: 1, minStepsPerEpoch: 1, lossSpace: 'original', shrink: true, prescale: true, guard: 0, holdout: 'tail' },
    seed: 1,
    regionFile: (r) => join(dir, `region-${String(r).padStart(5, '0')}.safetensors`),
    methods,
    // Unbounded: these tests compare returned predictions with saved ones (the bound has its own test).
    correctionBound: 0,
  };
}

test('evaluateTarget resumes a region file with other methods: kept methods are reused, missing ones equal a fresh run', async () => {
  const partial = mkdtempSync(join(tmpdir(), 'gpd-eval-partial-'));
  const fresh = mkdtempSync(join(tmpdir(), 'gpd-eval-fresh-'));
  const all: Method[] = ['target_only', 'gpd_zero_shot', 'gpd_calibrated', 'random_init_calibrated'];
  try {
    await evaluateTarget(options(partial, ['target_only', 'gpd_zero_shot']));
    // Mark one kept prediction so reuse is visible: a recomputation would overwrite the mark.
    const first = join(partial, readdirSync(partial).sort()[0]!);
    const { tensors, metadata } = readSafetensors(first);
    const marked = (tensors.target_only!.data as Float32Array).map((v) => v + 1000);
    writeSafetensors(first, { ...tensors, target_only: { ...tensors.target_only!, data: marked } }, metadata);
    const resumed = await evaluateTarget(options(partial, all));
    const once = await evaluateTarget(options(fresh, all));
    assert.deepEqual(resumed.predictions[0]!.preds.target_only, marked, 'the kept target_only predictions were recomputed');
    resumed.predictions[0]!.preds.target_only = marked.map((v) => v - 1000);
    for (const file of readdirSync(partial)) {
      const kept = readEvalRegion(join(partial, file));
      assert.deepEqual(Object.keys(kept.preds).sort(), [...all].sort(), `${file} holds every method after the resume`);
      assert.deepEqual(Object.keys(kept.params).sort(), [...all].sort(), `${file} holds every method's model after the resume`);
    }
    for (let r = 0; r < 2; r++) {
      for (const m of all) {
        const a = resumed.predictions[r]!.preds[m]!;
        const b = once.predictions[r]!.preds[m]!;
        const tol = r === 0 && m === 'target_only' ? 1e-3 : 0; // the unmarked copy went through float32 +-1000
        assert.ok(a.every((v, i) => Math.abs(v - b[i]!) <= tol), `region ${r} ${m}: a method computed alone differs from the same method computed with the others`);
      }
    }
  } finally {
    rmSync(partial, { recursive: true, force: true });
    rmSync(fresh, { recursive: true, force: true });
  }
});

test('calibrated rows: one least-squares scale on the K days shrinks an oversized generated correction', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-eval-cal-'));
  try {
    const { scores } = await evaluateTarget(options(dir, ['seasonal_baseline', 'gpd_zero_shot', 'gpd_calibrated', 'random_init', 'random_init_calibrated']));
    const mae = (m: Method) => scores.result(m).metrics.maeMean;
    // Measured: zero-shot 7.20, calibrated 2.725, the seasonal baseline 2.724, random init 2.722 / 2.724 calibrated.
    assert.ok(mae('gpd_calibrated') < 0.5 * mae('gpd_zero_shot'), `calibrated ${mae('gpd_calibrated')} vs raw ${mae('gpd_zero_shot')}`);
    assert.ok(Math.abs(mae('gpd_calibrated') - mae('seasonal_baseline')) < 0.02 * mae('seasonal_baseline'), `calibrated ${mae('gpd_calibrated')} vs baseline ${mae('seasonal_baseline')}`);
    // A random-init network outputs almost nothing, so it and its calibrated copy stay near the baseline.
    assert.ok(Math.abs(mae('random_init_calibrated') - mae('seasonal_baseline')) < 0.02 * mae('seasonal_baseline'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a region whose few-shot validation targets are all missing gets one warning naming it; the others none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-eval-blind-'));
  try {
    const city = cities[0]!;
    const { N, F, T } = city;
    const mask = city.mask ? city.mask.slice() : new Uint8Array(T * N * F).fill(1);
    // Region 3's validation part (the last 20% of the K days, at least 6 steps) loses every reading.
    const split = prep.split;
    for (let t = split.fewShotVal.start; t < split.fewShotVal.end; t++) for (let f = 0; f < F; f++) mask[(t * N + 3) * F + f] = 0;
    const blindPrep = prepareTarget({ ...city, mask }, 3, 0, 'seasonal-ar', 'tail');
    const warnings: string[] = [];
    await evaluateTarget({ ...options(dir, ['target_only', 'gpd']), prep: blindPrep, onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`${city.id} region ${city.nodeIds[3] ?? 3}: the few-shot validation part .* no observed target`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a region file saved by another evaluation version is refused by name; one without the field reads as version 1 and is refused too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-eval-version-'));
  try {
    await evaluateTarget(options(dir, ['gpd_zero_shot']));
    const first = join(dir, readdirSync(dir).sort()[0]!);
    const { tensors, metadata } = readSafetensors(first);
    assert.equal(metadata['evaluation'], String(EVALUATION_VERSION));
    const { evaluation: _, ...unversioned } = metadata;
    writeSafetensors(first, tensors, unversioned);
    // A file without the field is version 1 (no stored models): refused like any other version.
    await assert.rejects(evaluateTarget(options(dir, ['gpd_zero_shot'])), new RegExp(`evaluation version 1, this code computes version ${EVALUATION_VERSION}`));
    writeSafetensors(first, tensors, { ...metadata, evaluation: String(EVALUATION_VERSION + 1) });
    await assert.rejects(evaluateTarget(options(dir, ['gpd_zero_shot'])), (e: Error) => e.message.includes(first) && /evaluation version \d+, this code computes version \d+/.test(e.message) && e.message.includes(`delete ${dir}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('each model-based method\'s model and validation score are stored: the model reproduces the saved predictions; baselines store none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-eval-models-'));
  try {
    await evaluateTarget(options(dir, ['ha', 'seasonal_baseline', 'gpd_zero_shot', 'gpd']));
    const file = join(dir, 'region-00003.safetensors');
    const saved = readEvalRegion(file);
    assert.deepEqual(Object.keys(saved.params).sort(), ['gpd', 'gpd_zero_shot']);
    assert.deepEqual(Object.keys(saved.validation).sort(), ['gpd', 'gpd_zero_shot']);
    assert.deepEqual(saved.params.gpd_zero_shot, oversized);
    assert.notDeepEqual(saved.params.gpd, oversized);
    const { dataset, test: windows } = targetRegion(prep, 3);
    for (const m of ['gpd', 'gpd_zero_shot']) {
      assert.deepEqual(predictWindows(model, saved.params[m]!, dataset.adjacency, dataset.n, windows, dataset.norm), saved.preds[m], m);
      const v = pooledMetrics(model, saved.params[m]!, [dataset], 'val');
      assert.ok(v.mae > 0 && Math.abs(v.mae - saved.validation[m]!.mae) < 1e-12, `${m} validation MAE ${saved.validation[m]!.mae} vs ${v.mae}`);
    }
    // Fine-tuning shrank the oversized correction, which shows on the validation days.
    assert.ok(saved.validation.gpd!.mae < saved.validation.gpd_zero_shot!.mae);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gpd_auto takes, per region, the GPD row with the lower few-shot validation MAE (zero-shot only when strictly lower)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-eval-auto-'));
  try {
    const r = await evaluateTarget(options(dir, ['gpd_zero_shot', 'gpd', 'gpd_auto']));
    const chosen: string[] = [];
    for (const p of r.predictions) {
      const kept = readEvalRegion(join(dir, `region-${String(p.region).padStart(5, '0')}.safetensors`));
      const pick = kept.validation.gpd_zero_shot!.mae < kept.validation.gpd!.mae ? 'gpd_zero_shot' : 'gpd';
      chosen.push(pick);
      assert.deepEqual(p.preds.gpd_auto, p.preds[pick]);
      assert.equal(kept.preds['gpd_auto'], undefined, 'derived, not stored');
    }
    // The oversized init loses to its fine-tuned version on validation here: fine-tuned GPD in both regions.
    assert.deepEqual(chosen, ['gpd', 'gpd']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model forecasts are scored bounded by the few-shot range; saved predictions stay unbounded, so another factor rescores without a job', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-eval-bound-'));
  try {
    const methods: Method[] = ['ha', 'seasonal_baseline', 'gpd_zero_shot', 'target_only'];
    let jobs = 0;
    const off = await evaluateTarget({ ...options(dir, methods), onProgress: (p) => p.task === 'evaluate worker' && jobs++ });
    assert.ok(jobs > 0, 'the first evaluation ran its regions as jobs');
    jobs = 0;
    const on = await evaluateTarget({ ...options(dir, methods), correctionBound: 1, onProgress: (p) => p.task === 'evaluate worker' && jobs++ });
    assert.equal(jobs, 0, 'rescoring ran a region job');
    for (const m of ['ha', 'seasonal_baseline'] as const) assert.equal(on.scores.result(m).metrics.maeMean, off.scores.result(m).metrics.maeMean, `${m} is not a model and is never bounded`);
    // The oversized zero-shot correction is pulled back: measured MAE 0.705 of unbounded on this city.
    const ratio = on.scores.result('gpd_zero_shot').metrics.maeMean / off.scores.result('gpd_zero_shot').metrics.maeMean;
    assert.ok(ratio < 0.9, `bounded / unbounded zero-shot MAE ${ratio}`);
    for (const [i, region] of [1, 3].entries()) {
      const { dataset, test: windows } = targetRegion(prep, region);
      const saved = readEvalRegion(join(dir, `region-${String(region).padStart(5, '0')}.safetensors`));
      assert.deepEqual(saved.preds.gpd_zero_shot, off.predictions[i]!.preds.gpd_zero_shot, 'the file keeps the unbounded forecast');
      const bounded = boundForecasts(saved.preds.gpd_zero_shot!, windows, dataset.norm.std, fewShotCorrectionRange(dataset), 1);
      assert.deepEqual(on.predictions[i]!.preds.gpd_zero_shot, bounded);
      assert.ok(maskedMetrics(bounded, windows.yRaw, windows.yMask, 6).maeMean <= maskedMetrics(saved.preds.gpd_zero_shot!, windows.yRaw, windows.yMask, 6).maeMean);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a changed zero-shot scale scores the GPD rows again from the scaled vector and keeps every other row', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-eval-scale-'));
  const methods: Method[] = ['seasonal_baseline', 'target_only', 'gpd_zero_shot', 'gpd_calibrated'];
  try {
    const full = await evaluateTarget(options(dir, methods));
    // Mark target_only: the rescore must keep it, so the mark survives.
    const first = join(dir, readdirSync(dir).sort()[0]!);
    const { tensors, metadata } = readSafetensors(first);
    assert.equal(metadata['generatedRows'], gpdRowsTag(1, 'scaled', 1));
    const marked = (tensors.target_only!.data as Float32Array).map((v) => v + 1000);
    writeSafetensors(first, { ...tensors, target_only: { ...tensors.target_only!, data: marked } }, metadata);
    const quarter = await evaluateTarget({ ...options(dir, methods), zeroShotScale: 0.25 });
    assert.deepEqual(quarter.predictions[0]!.preds.target_only, marked, 'target_only was scored again');
    assert.equal(readEvalRegion(first).generatedRows, gpdRowsTag(0.25, 'scaled', 1));
    assert.equal(gpdRowsScale(readEvalRegion(first).generatedRows), 0.25);
    for (let r = 0; r < 2; r++) {
      const b = full.predictions[r]!.preds.seasonal_baseline!;
      const raw = full.predictions[r]!.preds.gpd_zero_shot!;
      const now = quarter.predictions[r]!.preds.gpd_zero_shot!;
      // Both models are bias-free: the forecast is the baseline plus a quarter of the correction.
      const worst = Math.max(...Array.from(now, (v, i) => Math.abs(v - (b[i]! + 0.25 * (raw[i]! - b[i]!)))));
      assert.ok(worst < 1e-3 * Math.max(...Array.from(raw, Math.abs)), `region ${r}: zero-shot at 0.25 is off the scaled correction by ${worst}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finetune.generatedStart: validation keeps whichever of the scaled and unscaled starts fine-tunes better on the few-shot validation days; auto is scaled at K = 3', async () => {
  const run = async (start: 'scaled' | 'unscaled' | 'validation' | 'auto') => {
    const dir = mkdtempSync(join(tmpdir(), `gpd-eval-start-${start}-`));
    try {
      const base = options(dir, ['gpd']);
      await evaluateTarget({ ...base, inits: { ...base.inits, generated: () => modest }, finetune: { ...base.finetune, generatedStart: start }, generatedScale: 0.1 });
      return readdirSync(dir).sort().map((f) => readEvalRegion(join(dir, f)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // A correction small enough that prescale keeps it whole: the two starts then differ by the scale.
  const modest = model.layout.init(new Rng(6).fork('modest'));
  const [scaled, unscaled, chosen, auto] = await Promise.all([run('scaled'), run('unscaled'), run('validation'), run('auto')]);
  for (let r = 0; r < chosen.length; r++) {
    const a = scaled[r]!, b = unscaled[r]!;
    const better = b.validation.gpd!.mae < a.validation.gpd!.mae ? b : a;
    assert.deepEqual(chosen[r]!.params.gpd, better.params.gpd, `region ${r}: not the start with the lower validation MAE`);
    assert.deepEqual(auto[r]!.params.gpd, a.params.gpd, `region ${r}: auto at K = 3 is not the scaled start`);
  }
  // The two starts fine-tune to different models, or the test proves nothing.
  assert.ok(scaled.some((a, r) => a.validation.gpd!.mae !== unscaled[r]!.validation.gpd!.mae), 'both starts fine-tuned to the same model');
  assert.equal(chosen[0]!.generatedRows, gpdRowsTag(0.1, 'validation', 0.1));
});
