import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSyntheticCities, type City } from '../../src/index.js';
import { aggregate, headline, verdictLines } from '../../experiments/lib/aggregate.js';
import { dailyWindowNotes, dailyWindowText, kDoesNotFit, skippedKLines, skippedKs } from '../../experiments/lib/cities.js';
import { ALL_CITIES, GWN_VARIANT, UsageError, parseOptions, settingsOf } from '../../experiments/lib/settings.js';
import { folderTables, type FolderTablesInput } from '../../experiments/lib/tables.js';
import { record } from './fixtures.js';

test('aggregate: mean and sample std over seeds, per-horizon means, one entry per scored method', () => {
  const agg = aggregate([record('a', 1), record('a', 2), record('a', 3)]);
  // gpd is METHODS[8]: MAE seed + 0.8 -> 1.8, 2.8, 3.8.
  assert.ok(Math.abs(agg.gpd!.mae - 2.8) < 1e-12);
  assert.ok(Math.abs(agg.gpd!.mae_std - 1) < 1e-12);
  assert.ok(Math.abs(agg.gpd!.rmse - 5.6) < 1e-12);
  assert.ok(Math.abs(agg.gpd!.maeByHorizon[0]! - 2.6) < 1e-12);
  assert.equal(agg.gpd!.seeds, 3);
  const partial = aggregate([{ ...record('a', 1), methods: { gpd: record('a', 1).methods.gpd! } }]);
  assert.deepEqual(Object.keys(partial), ['gpd']);
  assert.equal(partial.gpd!.mae_std, 0);
});

test('headline: family (or given) sources at K = 3 of one variant; Graph WaveNet runs stay apart', () => {
  const records = [
    record('a', 1),
    record('a', 2),
    record('a', 1, { sourceSet: 'all' }, { gpd: 100 }),
    record('a', 1, { k: 7 }, { gpd: 100 }),
    record('a', 1, { variant: GWN_VARIANT, model: 'gwn' }, { gpd: 50 }),
    record('b', 5, { sourceSet: 'given' }),
  ];
  const main = headline(records);
  assert.deepEqual(Object.keys(main), ['a', 'b']);
  assert.ok(Math.abs(main.a!.gpd!.mae - 2.3) < 1e-12);
  const gwn = headline(records, GWN_VARIANT);
  assert.deepEqual(Object.keys(gwn), ['a']);
  assert.equal(gwn.a!.gpd!.mae, 50);
});

test('verdicts come from the numbers and count paired wins per seed', () => {
  // GPD below target-only in seeds 1 and 3, above in seed 2.
  const records = [record('a', 1, {}, { gpd: 1.0, target_only: 1.5 }), record('a', 2, {}, { gpd: 3.0, target_only: 2.0 }), record('a', 3, {}, { gpd: 1.0, target_only: 1.2 })];
  const [line] = verdictLines(headline(records), records);
  assert.match(line!, /^- \*\*a\*\*: fine-tuned GPD/);
  // The mean loses (1.667 > 1.567) although GPD is lower in 2 of the 3 seeds: both are stated.
  assert.ok(line!.includes('does NOT beat target-only (1.667 vs 1.567, lower in 2/3 seeds)'), line);
});

test('K filtering: a K is skipped when the days before the test period, or a training window, are missing', () => {
  // 7 days of hourly data: the test period starts at step floor(0.7 * 168) = 117, so at most 4 days fit.
  const [city] = generateSyntheticCities({ seed: 3, cities: 1, nodes: 4, days: 7, intervalMinutes: 60 });
  assert.equal(kDoesNotFit(city!, 3), null);
  assert.match(kDoesNotFit(city!, 7)!, /at most 4 day\(s\) fit/);
  // A metro-like city: 18 readings a day from 06:00; one day leaves 12 training steps, less than a window.
  const metro: City = { ...city!, T: 18 * 30, day: { startMinutes: 360, steps: 18 } };
  assert.match(kDoesNotFit(metro, 1)!, /fewer than 18 steps = one window/);
  assert.equal(kDoesNotFit(metro, 3), null);
  const skipped = skippedKs([{ name: 'metro', city: metro }, { name: 'week', city: city! }], [7, 3, 1, 3]);
  assert.deepEqual(skipped.map((s) => `${s.target}:${s.k}`), ['metro:1', 'week:7']);
  const lines = skippedKLines(skipped);
  assert.equal(lines[0], 'K values the data do not allow (not run):');
  assert.equal(lines.filter((l) => l.startsWith('- ')).length, 2);
  assert.deepEqual(skippedKLines([]), []);
});

test('daily-window notes name every city covering part of the day, once per distinct text', () => {
  const text = dailyWindowText({ start: '06:00', steps: 18, inferred: true }, 60);
  assert.equal(text, 'its 18 daily slots are taken as hourly bins from 06:00 (inferred)');
  const notes = dailyWindowNotes(['m1', 'la', 'm2', 'm1'], (c) => (c.startsWith('m') ? text : null));
  assert.deepEqual(notes, ['m1, m2: their 18 daily slots are taken as hourly bins from 06:00 (inferred).']);
});

test('options: defaults, the eight shared cities, Graph WaveNet targets, and errors naming the option', () => {
  const o = parseOptions([], '2030-01-02', '/repo');
  assert.deepEqual(o.ks, [3]);
  assert.deepEqual(o.seeds, [1, 2, 3]);
  assert.equal(o.parallel, 1);
  assert.equal(o.outDir, '/repo/results/2030-01-02');
  assert.deepEqual(o.targets, ALL_CITIES);
  assert.equal(ALL_CITIES.length, 8);
  const settings = settingsOf(o, '/repo');
  assert.equal(settings.length, 16);
  const all = settings.find((s) => s.target === 'metro-shanghai' && s.sourceSet === 'all')!;
  assert.equal(all.sources.length, 7);
  assert.deepEqual(settings.find((s) => s.target === 'metro-shanghai' && s.sourceSet === 'family')!.sources, ['/repo/cities/metro-chongqing.city.json']);
  const g = parseOptions(['--gwn-targets', 'didi-xian,metro-chongqing', '--seeds', '2,3', '--k', '1,3,7', '--parallel', '2']);
  assert.deepEqual(g.gwnTargets, ['didi-xian', 'metro-chongqing']);
  assert.deepEqual(g.gwnSeeds, [2]);
  assert.deepEqual(g.ks, [1, 3, 7]);
  assert.throws(() => parseOptions(['--gwn-targets', 'atlantis']), (e: Error) => e instanceof UsageError && /--gwn-targets: unknown city atlantis/.test(e.message));
  assert.throws(() => parseOptions(['--parallel', '0']), /--parallel expects a positive integer/);
  assert.throws(() => parseOptions(['--k', '3,x']), /--k expects comma-separated integers/);
  const unseen = settingsOf(parseOptions(['--target', '/x/my-city.city.json', '--sources', '/x/a.city.json']));
  assert.deepEqual(unseen, [{ target: 'my-city', targetRef: '/x/my-city.city.json', sourceSet: 'given', sources: ['/x/a.city.json'] }]);
});

const tablesInput = (records: FolderTablesInput['records'], extra: Partial<FolderTablesInput> = {}): FolderTablesInput => ({
  records,
  outDir: '/nonexistent/2030-01-01',
  sourcesLabel: 'family sources',
  seeds: [1, 2],
  budget: 'quick',
  budgetOverrides: ['bank.epochs=15'],
  set: [],
  argv: ['--quick'],
  aggregateOnly: false,
  commit: 'abc1234',
  skipped: [],
  dailyNotes: [],
  ...extra,
});

test('table.md: the summary holds STGCN only; Graph WaveNet, skipped K and the metro note get their own lines', () => {
  const stgcnOnly = folderTables(tablesInput([record('a', 1), record('a', 2)]));
  assert.doesNotMatch(stgcnOnly.markdown, /Graph WaveNet|K values the data do not allow|covering part of each day/);
  assert.match(stgcnOnly.markdown, /^Base model STGCN; conditioning pre-bias unless noted; sampler DDIM-50; generated output scale 1; correction bound off; seeds 1, 2 /m);
  assert.match(stgcnOnly.markdown, /^Command: `npm run experiments -- --quick`$/m);
  // Runs whose zero-shot scale their K days chose name the range of choices and fine-tuning's fixed start.
  const chosen = folderTables(tablesInput([record('a', 1, { outputScale: 0.1, zeroShotScale: 0.2 }), record('a', 2, { outputScale: 0.1, zeroShotScale: 0 })]));
  assert.match(chosen.markdown, /; zero-shot output scale chosen per run on the K days \(0 to 0\.2\), fine-tuned GPD starting at 0\.1; correction bound off;/);

  const records = [
    record('a', 1, { model: 'stgcn', conditioning: 'pre-bias', sampler: 'ddim', samplerSteps: 50, guidance: 3 }),
    record('a', 1, { variant: GWN_VARIANT, model: 'gwn', conditioning: 'pre-bias', sampler: 'ddim', samplerSteps: 50, budget: 'quick', correctionBound: 1 }, { gpd: 9 }),
  ];
  const t = folderTables(tablesInput(records, { skipped: [{ target: 'a', k: 7, reason: 'too short' }], dailyNotes: ['m: its 18 daily slots are taken as hourly bins from 06:00 (inferred).'] }));
  assert.equal(t.main.a!.gpd!.mae, 1.8);
  assert.equal(t.gwn.a!.gpd!.mae, 9);
  assert.match(t.markdown, /^## Graph WaveNet: MAE \(mean ± std over seeds\), family sources, K = 3$/m);
  assert.match(t.markdown, /^Base model Graph WaveNet; conditioning pre-bias unless noted; sampler DDIM-50; generated output scale 1; correction bound x1; seeds 1; quick budget/m);
  assert.match(t.markdown, /\| GPD \(generated, fine-tuned\) \| 9\.000 ± 0\.000 \|/);
  assert.match(t.markdown, /^- a, K = 7: too short$/m);
  assert.match(t.markdown, /^Cities covering part of each day: m: its 18 daily slots/m);
  assert.deepEqual(Object.keys(t.results), ['a|family|3|main', `a|family|3|${GWN_VARIANT}`]);
  assert.equal((t.results[`a|family|3|${GWN_VARIANT}`] as { model: string }).model, 'gwn');
});
