import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METHODS } from '../../src/index.js';
import { headline } from '../../experiments/lib/aggregate.js';
import { checkedSummaryOf } from '../../experiments/lib/checked-summary.js';
import { CityBook } from '../../experiments/lib/cities.js';
import { nextStartable } from '../../experiments/lib/parallel.js';
import { renderResultsDoc, summarySource, type ResultsDocInput } from '../../experiments/lib/results-doc.js';
import type { RunPlan } from '../../experiments/lib/runner.js';
import { GWN_VARIANT } from '../../experiments/lib/settings.js';
import { writeCheckedSummaries, writeResultsDoc } from '../../experiments/lib/summary.js';
import { record } from './fixtures.js';

const older = [record('la-loop', 1), record('la-loop', 2), record('metro-shanghai', 1), record('metro-shanghai', 2), record('la-loop', 1, { k: 1 }, { gpd: 7 })];
const newer = [record('la-loop', 1, {}, { gpd: 0.5 }), record('metro-shanghai', 1, { variant: GWN_VARIANT, model: 'gwn', budget: 'quick', command: 'npm run experiments -- --gwn-targets metro-shanghai' }, { gpd: 4 })];

test('checked summaries: STGCN in results/results.json, Graph WaveNet in results/results-gwn.json, same layout; never dropping targets', () => {
  const root = mkdtempSync(join(tmpdir(), 'gpd-summary-'));
  try {
    mkdirSync(join(root, 'results'));
    writeCheckedSummaries(headline(older), headline(newer, GWN_VARIANT), root);
    const stgcn = JSON.parse(readFileSync(join(root, 'results', 'results.json'), 'utf8'));
    const gwn = JSON.parse(readFileSync(join(root, 'results', 'results-gwn.json'), 'utf8'));
    assert.deepEqual(Object.keys(stgcn), ['la-loop', 'metro-shanghai']);
    assert.deepEqual(Object.keys(stgcn['la-loop']), [...METHODS]);
    assert.deepEqual(Object.keys(stgcn['la-loop'].gpd), ['mae', 'rmse', 'mae_std']);
    assert.equal(stgcn['la-loop'].gpd.mae, 2.3);
    assert.deepEqual(Object.keys(gwn), ['metro-shanghai']);
    assert.equal(gwn['metro-shanghai'].gpd.mae, 4);
    // A folder with fewer targets leaves both files alone.
    const before = readFileSync(join(root, 'results', 'results.json'), 'utf8');
    writeCheckedSummaries(headline([record('la-loop', 9)]), {}, root);
    assert.equal(readFileSync(join(root, 'results', 'results.json'), 'utf8'), before);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('summarySource: the folder whose records reproduce the summary, not merely the newest', () => {
  const summary = checkedSummaryOf(headline(older));
  const folders = [{ name: '2030-01-02', records: newer }, { name: '2030-01-01', records: older }];
  assert.equal(summarySource(summary, folders, 'main')!.folder.name, '2030-01-01');
  const changed = structuredClone(summary);
  changed['la-loop']!.gpd!.mae += 1e-6;
  assert.equal(summarySource(changed, folders, 'main'), null);
});

const docInput = (extra: Partial<ResultsDocInput> = {}): ResultsDocInput => ({
  stgcn: checkedSummaryOf(headline(older)),
  gwn: checkedSummaryOf(headline(newer, GWN_VARIANT)),
  folders: [{ name: '2030-01-02', records: newer }, { name: '2030-01-01', records: older, budget: 'quick' }],
  dailyText: (c) => (c.startsWith('metro') ? 'its 18 daily slots are taken as hourly bins from 06:00 (inferred)' : null),
  skipped: (targets, ks) => (targets.includes('metro-shanghai') && ks.includes(1) ? [{ target: 'metro-shanghai', k: 1, reason: 'no training window' }] : []),
  resultsDir: '/nonexistent',
  ...extra,
});

test('docs/results.md: main table from the summary, verdicts and settings from its folder, the GWN table, notes and the folder index', () => {
  const doc = renderResultsDoc(docInput());
  assert.match(doc, /^## Main table: MAE \(mean ± std over seeds\), family sources, K = 3$/m);
  assert.match(doc, /reproduced by the runs of \[results\/2030-01-01\/table\.md\]\(\.\.\/results\/2030-01-01\/table\.md\)/);
  assert.match(doc, /^\| method \| la-loop \(speed\) \| metro-shanghai \(metro\) \|$/m);
  // gpd over seeds 1 and 2: 1.8 and 2.8.
  assert.match(doc, /^\| GPD \(generated, fine-tuned\) \| 2\.300 ± 0\.707 \| 2\.300 ± 0\.707 \|$/m);
  assert.match(doc, /^Base model STGCN; conditioning pre-bias unless noted; sampler DDIM-50; generated output scale 1; correction bound off; seeds 1, 2\. Budget: quick\./m);
  assert.match(doc, /^Not in the summary yet: shenzhen-sztaxi40, nyc-bike-grid, montevideo-bus, didi-chengdu, didi-xian, metro-chongqing\.$/m);
  assert.match(doc, /^metro-shanghai: its 18 daily slots are taken as hourly bins from 06:00 \(inferred\)\.$/m);
  assert.match(doc, /^- \*\*la-loop\*\*: fine-tuned GPD does NOT beat historical average \(2\.300 vs 1\.500, lower in 0\/2 seeds\)/m);
  // The across-settings table (la-loop also has K = 1) and the K the metro city cannot take.
  assert.match(doc, /^\| la-loop \| family \(src-city\) \| 1 \| 1 \|/m);
  assert.match(doc, /^- metro-shanghai, K = 1: no training window$/m);
  assert.match(doc, /^## Graph WaveNet: MAE/m);
  assert.match(doc, /Command: `npm run experiments -- --gwn-targets metro-shanghai`/);
  assert.match(doc, /^\| \[results\/2030-01-01\/table\.md\]\(\.\.\/results\/2030-01-01\/table\.md\) \| quick \| la-loop, metro-shanghai \| 1, 2 \| 5 \|$/m);
  assert.doesNotMatch(doc, /\n\n\n/);

  const none = renderResultsDoc(docInput({ stgcn: null, gwn: null }));
  assert.match(none, /No checked summary yet/);
  assert.match(none, /No Graph WaveNet summary yet/);
});

test('writeResultsDoc renders from a results/ tree on disk', () => {
  const root = mkdtempSync(join(tmpdir(), 'gpd-doc-'));
  try {
    mkdirSync(join(root, 'results', '2030-01-01'), { recursive: true });
    writeFileSync(join(root, 'results', '2030-01-01', 'runs.json'), JSON.stringify(older));
    writeFileSync(join(root, 'results', '2030-01-01', 'table.md'), '# t\n\nBudget: full (data.maxTargetRegions=64).\n');
    writeCheckedSummaries(headline(older), {}, root);
    const file = writeResultsDoc(new CityBook([], root), root);
    const doc = readFileSync(file, 'utf8');
    assert.equal(file, join(root, 'docs', 'results.md'));
    assert.match(doc, /reproduced by the runs of \[results\/2030-01-01\/table\.md\]/);
    assert.match(doc, /Budget: full\./);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('--parallel starts a run only when no other run of its bank is still opening it', () => {
  const plan = (key: string, bankDir: string) => ({ key, bankDir }) as RunPlan;
  const pending = [plan('a1', 'A'), plan('a2', 'A'), plan('b1', 'B')];
  assert.equal(nextStartable(pending, new Set()), 0);
  assert.equal(nextStartable(pending, new Set(['A'])), 2);
  assert.equal(nextStartable(pending, new Set(['A', 'B'])), -1);
});
