import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { buildBank, type BuildBankOptions } from '../../src/bank/build.js';
import { runPool } from '../../src/bank/pool.js';
import { loadBank } from '../../src/bank/store.js';
import { BANK_REGION_JOB, type BankRegionPayload } from '../../src/bank/region-payload.js';
import { sliceCityPrep, sliceRegion } from '../../src/bank/region-slice.js';
import { prepareCity } from '../../src/train/dataset.js';
import { trainConfigOf } from '../../src/train/config.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const cities = generateSyntheticCities({ seed: 21, cities: 2, nodes: [5, 4], days: 4 });
const root = mkdtempSync(join(tmpdir(), 'gpd-pool-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const base = (out: string): BuildBankOptions => ({
  cities,
  model: 'stgcn',
  epochs: 2,
  batchSize: 32,
  lr: 3e-3,
  weightDecay: 1e-2,
  patience: 3,
  groupSize: 1,
  workers: 0,
  seed: 4,
  init: 'random',
  dir: join(root, out),
  baseline: 'none',
  maxRegions: 2,
});

test('two worker threads build the same bank, bit for bit, as the calling thread', async () => {
  await buildBank(base('inline'));
  const lanes = new Set<number>();
  await buildBank({ ...base('pool'), workers: 2, onProgress: (e) => { if (e.lane !== undefined) lanes.add(e.lane); } });
  const a = loadBank(join(root, 'inline'));
  const b = loadBank(join(root, 'pool'));
  assert.equal(b.vectors.length, 4);
  b.vectors.forEach((v, i) => assert.deepEqual(v, a.vectors[i], `vector ${i}`));
  assert.deepEqual(b.entries.map((e) => e.val), a.entries.map((e) => e.val));
  assert.deepEqual([...lanes].sort(), [0, 1], 'progress arrives on one lane per worker');
});

test('a failing region in a worker rejects with the worker and the region named; the other lane stops', async () => {
  const city = cities[0]!;
  const prep = prepareCity(city, 0, 'none');
  const config = trainConfigOf({ epochs: 50, batchSize: 32, lr: 1e-3, weightDecay: 0, patience: 50 });
  const job = (r: number, data = sliceRegion(city, prep, r, sliceCityPrep)) => ({
    kind: BANK_REGION_JOB,
    label: `${city.id} region ${r}`,
    payload: (): BankRegionPayload => ({ model: 'stgcn', config, seed: 1, init: 'random', data }),
  });
  // Region 1's data claim a validation part beyond the series: its windows cannot be built.
  const broken = sliceRegion(city, prep, 1, sliceCityPrep);
  broken.prep.split.val.end = city.T + 50;
  const results: string[] = [];
  await assert.rejects(
    runPool({ name: 'bank', workers: 2, entry: new URL('../../src/bank/worker.ts', import.meta.url), groups: [[job(0)], [job(1, broken)]], onResult: (j) => results.push(j.label) }),
    /bank worker 1 \(synth-a region 1\): city synth-a: step range \[\d+, \d+\) is empty or outside the series/,
  );
  assert.deepEqual(results, [], 'the long job on the other lane was stopped, not finished');
});

test('workers also start when the parent registered tsx through its API (not --import)', () => {
  const script = join(root, 'register-api.mjs');
  const url = (p: string) => pathToFileURL(join(projectRoot, p)).href;
  writeFileSync(
    script,
    [
      `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};`,
      'register();',
      `const { buildBank } = await import(${JSON.stringify(url('src/bank/build.ts'))});`,
      `const { generateSyntheticCities } = await import(${JSON.stringify(url('src/data/synthetic.ts'))});`,
      "const cities = generateSyntheticCities({ seed: 21, cities: 2, nodes: [5, 4], days: 4 });",
      `await buildBank({ cities: [cities[0]], model: 'stgcn', epochs: 2, batchSize: 32, lr: 3e-3, weightDecay: 1e-2, patience: 3, groupSize: 1, workers: 1, seed: 4, init: 'random', dir: process.argv[2], maxRegions: 1, baseline: 'none' });`,
    ].join('\n'),
  );
  const out = join(root, 'api');
  execFileSync(process.execPath, [script, out], { cwd: projectRoot, stdio: 'pipe' });
  const child = loadBank(out);
  assert.equal(child.vectors.length, 1);
  assert.deepEqual(child.vectors[0], loadBank(join(root, 'inline')).vectors[0]);
});
