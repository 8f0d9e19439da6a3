/**
 * The whole pipeline on a tiny synthetic multi-city setup: bank -> prompts -> diffusion ->
 * generation -> evaluation of every method -> report data. The synthetic generator ties each
 * region's daily pattern to its land use, so prompts are informative and the generator's
 * zero-shot models must beat the bank mean used the same way (raw encoding, second test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { runTransfer } from '../../src/transfer/pipeline.js';
import type { MethodSummary } from '../../src/transfer/run-folder.js';
import { writeReportData } from '../../src/report/data.js';
import { METHODS, type Method } from '../../src/transfer/evaluate.js';

const TINY = [
  'data.syntheticNodes=8',
  'data.syntheticDays=10',
  'data.sources=["synthetic:synth-a","synthetic:synth-b","synthetic:synth-c"]',
  'data.target=synthetic:synth-d',
  'bank.epochs=6',
  'bank.sharedEpochs=3',
  'bank.workers=0',
  'diffusion.steps=300',
  'diffusion.lr=2e-3',
  'diffusion.width=32',
  'diffusion.layers=1',
  'diffusion.heads=2',
  'diffusion.tokenSize=512',
  'diffusion.evalEvery=50',
  'diffusion.timesteps=100',
  'finetune.epochs=3',
  'sampling.steps=10',
];

const mae = (m: Partial<Record<Method, MethodSummary>>) => Object.entries(m).map(([k, v]) => `${k} ${v!.mae.toFixed(4)}`).join(', ');

test('tiny synthetic pipeline (default encoding): every method scored, the seasonal baseline among them; rerun resumes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-pipeline-'));
  try {
    const config = loadConfig(undefined, TINY);
    assert.equal(config.data.baseline, 'seasonal-ar');
    const r1 = await runTransfer({ config, runDir: dir });
    for (const k of METHODS) assert.ok(r1.methods[k], `method ${k} was not scored`);
    const m = r1.methods as Record<Method, MethodSummary>;
    for (const k of METHODS) {
      assert.ok(Number.isFinite(m[k].mae) && m[k].mae > 0, `${k} MAE ${m[k].mae}`);
      assert.equal(m[k].maeByHorizon.length, 6);
    }
    t.diagnostic(`MAE: ${mae(m)}`);
    // Fine-tuning on the few-shot days improves on the generated init.
    assert.ok(m.gpd.mae <= 1.01 * m.gpd_zero_shot.mae, `GPD fine-tuned ${m.gpd.mae} vs zero-shot ${m.gpd_zero_shot.mae}`);
    assert.ok(m.target_only.mae <= 1.01 * m.random_init.mae, `target-only ${m.target_only.mae} vs its init ${m.random_init.mae}`);
    for (const f of ['config.json', 'results.json', 'generated.safetensors', 'generator/generator.json', 'generator/prompt-spec.json', 'bank/index.json']) {
      assert.ok(existsSync(join(dir, f)), `missing ${f}`);
    }
    // The report's data come from these artefacts alone, and show the run's own numbers.
    const reportData = JSON.parse(readFileSync(writeReportData(dir), 'utf8'));
    assert.equal(reportData.summary.find((r: { method: string }) => r.method === 'gpd').mae, m.gpd.mae);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    assert.equal(results.target, 'synth-d');
    assert.equal(results.regionsScored, 8);
    assert.equal(JSON.parse(readFileSync(join(dir, 'bank/index.json'), 'utf8')).settings.baseline, 'seasonal-ar');
    assert.equal(JSON.parse(readFileSync(join(dir, 'generator/generator.json'), 'utf8')).info.baseline, 'seasonal-ar');

    // Rerunning the same command finds every stage done and reproduces the same numbers.
    const t0 = performance.now();
    const r2 = await runTransfer({ config, runDir: dir });
    const rerunSeconds = (performance.now() - t0) / 1000;
    for (const k of METHODS) assert.equal(r2.methods[k]?.mae, m[k].mae, k);
    assert.ok(rerunSeconds < r1.wallSeconds / 2, `rerun took ${rerunSeconds} s vs ${r1.wallSeconds} s`);

    // A different configuration must not silently reuse this folder.
    await assert.rejects(runTransfer({ config: loadConfig(undefined, [...TINY, 'finetune.epochs=4']), runDir: dir }), /different configuration/);
    // ... but a new correction bound only rescores the stored predictions: no stage runs again.
    const t1 = performance.now();
    const r3 = await runTransfer({ config: loadConfig(undefined, [...TINY, 'data.correctionBound=0']), runDir: dir });
    assert.ok((performance.now() - t1) / 1000 < r1.wallSeconds / 2, 'rescoring retrained something');
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).config.data.correctionBound, 0);
    for (const k of ['ha', 'seasonal_baseline'] as const) assert.equal(r3.methods[k]?.mae, m[k].mae, k);
    t.diagnostic(`unbounded: ${mae(r3.methods)}`);
    // The zero-shot scale was chosen on the few-shot days: the grid factor with the lowest MAE there.
    const { zeroShotScale: choice } = results;
    assert.equal(choice.mae[choice.grid.indexOf(choice.scale)], Math.min(...choice.mae));
    assert.equal(r1.zeroShotScale, choice.scale);
    // A new sampling.outputScale moves fine-tuned GPD's start and scores the GPD rows again from the
    // stored generated vectors: nothing is generated again, every other row keeps its number, and so
    // does the zero-shot row (its scale is the city's choice).
    const generatedAt = statSync(join(dir, 'generated.safetensors')).mtimeMs;
    const r4 = await runTransfer({ config: loadConfig(undefined, [...TINY, 'sampling.outputScale=0.5']), runDir: dir });
    assert.equal(statSync(join(dir, 'generated.safetensors')).mtimeMs, generatedAt, 'the generated vectors were written again');
    for (const k of ['target_only', 'bank_mean', 'random_init', 'gpd_zero_shot'] as const) assert.equal(r4.methods[k]?.mae, r3.methods[k]?.mae, k);
    assert.notEqual(r4.methods.gpd?.mae, r3.methods.gpd?.mae, 'fine-tuned GPD was not scored again from the new start');
    // A fixed zero-shot scale (0.5, not the city's choice) scores the zero-shot row again at it.
    assert.notEqual(choice.scale, 0.5);
    const r5 = await runTransfer({ config: loadConfig(undefined, [...TINY, 'sampling.outputScale=0.5', 'sampling.zeroShotScale=fixed']), runDir: dir });
    assert.equal(r5.zeroShotScale, 0.5);
    assert.equal(r5.methods.gpd?.mae, r4.methods.gpd?.mae);
    assert.notEqual(r5.methods.gpd_zero_shot?.mae, r4.methods.gpd_zero_shot?.mae, 'the zero-shot row was not scored again at the fixed scale');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The synthetic cities' regions differ by their land use's daily profile. With raw z-scores
 * (data.baseline=none) that profile is what a generated model must carry, so the zero-shot error
 * measures whether generation follows the prompt; the seasonal encodings take the profile out of
 * the network's job (above).
 */
test('tiny synthetic pipeline (raw encoding): GPD zero-shot beats the bank mean and random init', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-pipeline-raw-'));
  try {
    const r = await runTransfer({ config: loadConfig(undefined, [...TINY, 'data.baseline=none']), runDir: dir, methods: ['gpd_zero_shot', 'bank_mean_zero_shot', 'random_init'] });
    const m = r.methods as Record<Method, MethodSummary>;
    assert.equal(m.seasonal_baseline, undefined);
    t.diagnostic(`MAE: ${mae(m)}`);
    assert.ok(m.gpd_zero_shot.mae < m.bank_mean_zero_shot.mae, `GPD zero-shot ${m.gpd_zero_shot.mae} vs bank mean ${m.bank_mean_zero_shot.mae}`);
    assert.ok(m.gpd_zero_shot.mae < m.random_init.mae, `GPD zero-shot ${m.gpd_zero_shot.mae} vs random init ${m.random_init.mae}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
