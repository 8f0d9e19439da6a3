import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/runtime/backend.js';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { Rng } from '../../src/util/prng.js';
import { evaluateTarget, defaultMethods, type EvaluateOptions } from '../../src/transfer/evaluate.js';
import { runTransferRegion, sliceTargetPrep, type TransferRegionPayload } from '../../src/transfer/region-eval.js';
import { sliceRegion, wholeCityRegion } from '../../src/bank/region-slice.js';
import { createForecaster } from '../../src/models/registry.js';
import { prepareTarget } from '../../src/train/target.js';
import { FinetuneConfig } from '../../src/train/config.js';
import { isModelMethod, computedMethods } from '../../src/transfer/methods.js';
import { TransferRegionResult } from '../../src/cluster/schemas.js';

await initBackend();

const [city] = generateSyntheticCities({ seed: 9, cities: 1, nodes: 8, days: 14 });
const prep = prepareTarget(city!, 3, 0, 'seasonal-ar', 'days');
const model = createForecaster('stgcn');
const rng = new Rng(4);
const vec = (label: string) => model.layout.init(rng.fork(label));
const inits = { shared: vec('shared'), bankMean: vec('mean'), nearest: (r: number) => vec(`nearest${r}`), generated: (r: number) => vec(`gen${r}`) };
const regions = [0, 2, 3, 5, 7];
const finetune = FinetuneConfig.parse({ epochs: 2, batchSize: 32, lr: 1e-3, patience: 2, minStepsPerEpoch: 3 });

function options(dir: string, workers: number): EvaluateOptions {
  return { model, prep, regions, inits, finetune, seed: 1, regionFile: (r) => join(dir, `region-${String(r).padStart(5, '0')}.safetensors`), workers };
}

const files = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));

test('a target region evaluated from its slice predicts what the whole city gives, bit for bit', async () => {
  // A region job gets what the coordinator sends: derived rows (gpd_auto) are computed from the stored rows afterwards.
  const methods = computedMethods(defaultMethods(prep));
  const payload = (region: number, data: TransferRegionPayload['data']): TransferRegionPayload => ({
    model: 'stgcn',
    finetune,
    seed: 1,
    methods,
    inits: { shared: inits.shared, bankMean: inits.bankMean, nearest: inits.nearest(region), generated: inits.generated(region) },
    generatedScale: 0.1,
    zeroShotScale: 0.05,
    data,
  });
  const whole = await runTransferRegion(payload(3, wholeCityRegion(city!, prep, 3)));
  const sliced = await runTransferRegion(payload(3, sliceRegion(city!, prep, 3, sliceTargetPrep)));
  assert.ok(sliced.preds.target_only!.length > 0);
  assert.deepEqual(sliced, whole);
  // Every model-based method's model and validation score come back with its predictions (they are stored together).
  const modelMethods = methods.filter(isModelMethod).sort();
  assert.deepEqual(Object.keys(sliced.params).sort(), modelMethods);
  assert.deepEqual(Object.keys(sliced.validation).sort(), modelMethods);
  // What a cluster worker sends back passes the coordinator's schema; a result that drops a model does not.
  assert.equal(TransferRegionResult.safeParse(sliced).success, true);
  const { gpd: _dropped, ...params } = sliced.params;
  const refused = TransferRegionResult.safeParse({ ...sliced, params });
  assert.equal(refused.success, false);
  assert.match(refused.error!.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '), /params\.gpd is missing: "gpd" has predictions but no model/);
});

test('evaluation on 2 worker threads writes the sequential run\'s prediction files byte for byte, and resumes', async () => {
  const seq = mkdtempSync(join(tmpdir(), 'gpd-eval-seq-'));
  const pool = mkdtempSync(join(tmpdir(), 'gpd-eval-pool-'));
  try {
    const a = await evaluateTarget(options(seq, 0));
    // Interrupt the pooled run once two regions are saved; the rerun scores only the rest.
    const ac = new AbortController();
    const lanes = new Set<number>();
    await assert.rejects(
      evaluateTarget({ ...options(pool, 2), signal: ac.signal, onProgress: (e) => {
        if (e.lane !== undefined) lanes.add(e.lane);
        if (e.task === 'evaluate' && e.done === 2) ac.abort();
      } }),
      (e: Error) => e.name === 'Cancelled',
    );
    assert.deepEqual([...lanes].sort(), [0, 1], 'both threads worked');
    const kept = readdirSync(pool).length;
    assert.ok(kept >= 2 && kept < regions.length, `${kept} regions saved before the interrupt`);
    const events: string[] = [];
    const b = await evaluateTarget({ ...options(pool, 2), onProgress: (e) => { if (e.task === 'evaluate') events.push(`${e.done}/${e.total} ${e.detail ?? ''}`); } });
    assert.equal(events[0], `${kept}/${regions.length} resuming: ${kept} regions already scored`);
    assert.equal(events.length, 1 + regions.length - kept, events.join('\n'));
    assert.deepEqual(files(pool), files(seq));
    for (const m of a.scores.methods()) assert.deepEqual(b.scores.result(m), a.scores.result(m), m);
  } finally {
    rmSync(seq, { recursive: true, force: true });
    rmSync(pool, { recursive: true, force: true });
  }
});
