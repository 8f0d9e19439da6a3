/**
 * Average a region's generated samples (the default, chosen on held-out SOURCE regions) or pick one on
 * the target's K days? Judged across cities on pseudo-targets (PROTOCOL.md: defaults on source-side data):
 *
 *   npm run experiments:sample-selection -- [--cities a,b] [--regions 24] [--k 3] [--runs <folder>]
 *
 * Each city is cut to the part before its test period and treated as a few-shot target of its own
 * (experiments/lib/pseudo-target.ts). Its generator is the one its family run (seed 1, K = 3) trained
 * on the partner city's bank, so nothing of the city itself went into it; the prompts come from the
 * pseudo-target's K days, as a target's do. Per region the run's sampling settings draw `samples`
 * vectors; printed on the pseudo-test (correction bound x1): random init, the samples' average (GPD
 * zero-shot as it is), the sample with the lowest error on the K days (few-shot training and
 * validation windows), the better of average and random init on the K days, and the best sample per
 * region picked on the pseudo-test (an oracle, a ceiling).
 */
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/index.js';
import { targetRegion } from '../src/train/target.js';
import { PSEUDO_TARGET_OPTIONS, commandLine, drawAsPipeline, familyPseudoTarget, regionScorer } from './lib/pseudo-target.js';
import { ROOT } from './lib/settings.js';
import { averageGroups } from '../src/transfer/stages.js';
import { regionRng } from '../src/transfer/region-eval.js';

const { values: args } = parseArgs({ options: PSEUDO_TARGET_OPTIONS });

await initBackend();
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ROWS = ['random init', 'average of samples (default)', 'sample picked on the K days', 'average or random init, on the K days', 'best sample (oracle)'] as const;
const changes = new Map<string, number[]>();
console.log(`${commandLine('experiments:sample-selection')}   # ${args.regions} pseudo-target regions per city, K = ${args.k}, correction bound x1; generators of ${relative(ROOT, args.runs!)}\n`);
for (const name of args.cities!.split(',')) {
  const t = familyPseudoTarget(args.runs!, name, Number(args.k), Number(args.regions));
  if (!t) {
    console.log(`${name}: no family run with a generator under ${args.runs} (skipped)`);
    continue;
  }
  const { cfg, model, city, prep, regions } = t;
  const S = cfg.sampling.samples;
  const t0 = performance.now();
  const drawn = drawAsPipeline(t);
  const averages = averageGroups(drawn, S);
  const genSeconds = (performance.now() - t0) / 1000;
  const rows = new Map<string, number[]>(ROWS.map((r) => [r, []]));
  regions.forEach((region, i) => {
    const score = regionScorer(model, targetRegion(prep, region));
    const samples = drawn.slice(i * S, (i + 1) * S);
    const average = averages[i]!;
    const random = model.layout.init(regionRng(cfg.seed, city.id, region).fork('random-init'));
    const onK = samples.map(score.fewShot);
    const onTest = samples.map(score.test);
    const avgTest = score.test(average);
    const randomTest = score.test(random);
    rows.get('random init')!.push(randomTest);
    rows.get('average of samples (default)')!.push(avgTest);
    rows.get('sample picked on the K days')!.push(onTest[onK.indexOf(Math.min(...onK))]!);
    rows.get('average or random init, on the K days')!.push(score.fewShot(average) <= score.fewShot(random) ? avgTest : randomTest);
    rows.get('best sample (oracle)')!.push(Math.min(...onTest));
  });
  const r = mean(rows.get('random init')!);
  console.log(`${name} (generator trained on ${t.sources.join('+')}; ${regions.length} regions x ${S} samples, generated in ${genSeconds.toFixed(0)} s)`);
  for (const row of ROWS) {
    const m = mean(rows.get(row)!);
    const change = m / r - 1;
    if (row !== 'random init') changes.set(row, [...(changes.get(row) ?? []), change]);
    console.log(`  ${row.padEnd(40)} ${m.toFixed(3)}${row === 'random init' ? '' : ` (${(change * 100).toFixed(1)}%)`}`);
  }
}
if (changes.size > 0) {
  console.log('\nmean change against random init over cities:');
  for (const [row, xs] of changes) console.log(`  ${row.padEnd(40)} ${(mean(xs) * 100).toFixed(1)}%`);
}
