/**
 * How large should a generated model's correction be on a city it was not trained on? Chooses
 * sampling.outputScale on data before every test period (PROTOCOL.md: defaults on source-side data):
 *
 *   npm run experiments:zero-shot-scale -- [--cities a,b] [--regions 24] [--k 3] [--runs <folder>]
 *
 * Each city is cut to the part before its test period and treated as a few-shot target of its own
 * (experiments/lib/pseudo-target.ts), with the generator its family run (seed 1, K = 3) trained on the
 * partner city's bank and prompts from the pseudo-target's K days, as a target's are. Per region the
 * run's sampling settings draw and average the generated vector, whose output layer is then scaled by
 * each factor (the correction of the seasonal baseline scales with it: both models are bias-free); the
 * untrained bank mean is scaled the same way, so the output tells "the generator" from "any source
 * correction". Printed per city: the pseudo-test MAE (correction bound x1, as runs score) at every
 * factor and its change against random init; then the mean change over cities per factor, the factor
 * with the lowest mean, and, per city, the factor chosen on the OTHER cities alone (leave one city out,
 * so no city's own pseudo-test chooses its factor) with that city's change at it; then the factor each
 * city's own few-shot days choose (the lowest MAE on its validation windows; the lowest on all K days
 * pooled, as the pipeline chooses under sampling.zeroShotScale = few-shot; and the smallest factor within
 * one standard error of that lowest across regions, a rule measured and not adopted) with its change
 * there, set beside the one fixed factor.
 *
 * Each city's rows are kept in results/zero-shot-scale/k<K>/<city>.json (written atomically), so a killed
 * run resumes and cities run in separate processes (`--cities`) are summarised together by one more
 * run over all of them, which generates nothing again.
 */
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, type Forecaster } from '../src/index.js';
import { targetRegion } from '../src/train/target.js';
import { PSEUDO_TARGET_OPTIONS, cachedCityRows, commandLine, drawAsPipeline, familyPseudoTarget, familyRunBank, regionScorer } from './lib/pseudo-target.js';
import { ROOT } from './lib/settings.js';
import { averageGroups } from '../src/transfer/stages.js';
import { regionRng } from '../src/transfer/region-eval.js';
import { meanVector } from '../src/transfer/inits.js';
import { scaleOutput } from '../src/train/calibrate.js';
import { ZERO_SHOT_SCALE_GRID, chooseZeroShotScale } from '../src/transfer/zero-shot-scale.js';
import { oneStandardErrorPick } from './lib/one-standard-error.js';

const { values: args } = parseArgs({ options: { ...PSEUDO_TARGET_OPTIONS, scales: { type: 'string', default: ZERO_SHOT_SCALE_GRID.join(',') } } });
const SCALES = args.scales!.split(',').map(Number);
if (SCALES.some((s) => !(s >= 0))) throw new Error(`--scales expects non-negative numbers, got "${args.scales}"`);

await initBackend();
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
/** Per city and row: the change against random init at every scale. */
const changes: { city: string; generated: number[]; bankMean: number[]; pickVal: number; pickFewShot: number; pickFewShotSe: number }[] = [];
console.log(`${commandLine('experiments:zero-shot-scale')}   # ${args.regions} pseudo-target regions per city, K = ${args.k}, correction bound x1; generators and banks of ${relative(ROOT, args.runs!)}\n`);

type Scorer = ReturnType<typeof regionScorer>;
/** Mean over regions of one score of every region's vector, at every scale. */
function scaledRow(model: Forecaster, vectors: Float32Array[], scores: Scorer[], part: 'test' | 'val' = 'test'): number[] {
  return SCALES.map((s) => mean(vectors.map((v, i) => scores[i]![part](scaleOutput(model, v, s)))));
}

const cacheDir = join(ROOT, 'results', 'zero-shot-scale', `k${args.k}`);
mkdirSync(cacheDir, { recursive: true });
interface CityRows {
  city: string;
  scales: number[];
  regions: number;
  random: number;
  generated: number[];
  bankMean: number[];
  /** The generated rows' few-shot MAE per scale: validation windows (mean over regions), and all K days pooled (transfer/zero-shot-scale.ts, what the pipeline chooses by). */
  generatedVal: number[];
  generatedFewShot: number[];
  /** The grid index the one-standard-error rule picks on all K days (experiments/lib/one-standard-error.ts; measured, not the pipeline's). */
  fewShotPick: number;
  /** Marks rows whose few-shot MAE is pooled as the pipeline pools it (earlier files averaged regions) and that carry fewShotPick. */
  pooled: true;
  oneStandardError: true;
  sources: string;
  genSeconds: number;
}
for (const name of args.cities!.split(',')) {
  const usable = (saved: CityRows) => saved.regions === Number(args.regions) && JSON.stringify(saved.scales) === JSON.stringify(SCALES) && saved.pooled === true && saved.oneStandardError === true;
  const rows = await cachedCityRows(join(cacheDir, `${name}.json`), usable, () => cityRows(name));
  if (!rows) continue;
  const { random } = rows;
  console.log(`${name} (generator trained on ${rows.sources}; ${rows.regions} regions, generated in ${rows.genSeconds.toFixed(0)} s); random init ${random.toFixed(3)}`);
  console.log(`  ${'scale'.padEnd(22)} ${SCALES.map((s) => String(s).padStart(15)).join('')}`);
  for (const [label, row] of [['generated', rows.generated], ['bank mean', rows.bankMean]] as const) {
    console.log(`  ${label.padEnd(22)} ${row.map((m) => `${m.toFixed(3)} ${fmt(m / random - 1)}`.padStart(15)).join('')}`);
  }
  for (const [label, row] of [['few-shot val', rows.generatedVal], ['few-shot days', rows.generatedFewShot]] as const) {
    console.log(`  ${('generated ' + label).padEnd(22)} ${row.map((m) => m.toFixed(3).padStart(15)).join('')}`);
  }
  const argmin = (row: number[]) => row.indexOf(Math.min(...row));
  changes.push({
    city: name,
    generated: rows.generated.map((m) => m / random - 1),
    bankMean: rows.bankMean.map((m) => m / random - 1),
    pickVal: argmin(rows.generatedVal),
    pickFewShot: argmin(rows.generatedFewShot),
    pickFewShotSe: rows.fewShotPick,
  });
}

/** One city's pseudo-test MAE at every scale (generating its vectors), or null when its family run is missing. */
async function cityRows(name: string): Promise<CityRows | null> {
  const t = familyPseudoTarget(args.runs!, name, Number(args.k), Number(args.regions));
  const bank = familyRunBank(args.runs!, name);
  if (!t || !bank) {
    console.log(`${name}: no family run with a generator and bank under ${args.runs} (skipped)`);
    return null;
  }
  const { cfg, model, city, prep, regions } = t;
  const t0 = performance.now();
  const generated = averageGroups(drawAsPipeline(t), cfg.sampling.samples);
  const genSeconds = (performance.now() - t0) / 1000;
  const scores = regions.map((r) => regionScorer(model, targetRegion(prep, r)));
  const random = mean(regions.map((r, i) => scores[i]!.test(model.layout.init(regionRng(cfg.seed, city.id, r).fork('random-init')))));
  const bankMean = meanVector(bank.vectors);
  const gRow = scaledRow(model, generated, scores);
  const bRow = scaledRow(model, regions.map(() => bankMean), scores);
  const generatedVal = scaledRow(model, generated, scores, 'val');
  // What the pipeline chooses by (sampling.zeroShotScale = few-shot): every region's K days pooled.
  const choice = chooseZeroShotScale(model, t.prep, regions, (r) => generated[regions.indexOf(r)]!, SCALES);
  return {
    city: name,
    scales: SCALES,
    regions: regions.length,
    random,
    generated: gRow,
    bankMean: bRow,
    generatedVal,
    generatedFewShot: choice.mae,
    fewShotPick: oneStandardErrorPick(choice.mae, choice.byRegion).pick,
    pooled: true,
    oneStandardError: true,
    sources: t.sources.join('+'),
    genSeconds,
  };
}

if (changes.length > 0) {
  const best = (rows: number[][]) => {
    const means = SCALES.map((_, j) => mean(rows.map((r) => r[j]!)));
    return { means, at: means.indexOf(Math.min(...means)) };
  };
  for (const key of ['generated', 'bankMean'] as const) {
    const { means, at } = best(changes.map((c) => c[key]));
    console.log(`\nmean change against random init over ${changes.length} cities (${key === 'generated' ? 'generated' : 'bank mean'}):`);
    console.log(`  ${SCALES.map((s, j) => `${s}: ${fmt(means[j]!)}`).join('  ')}`);
    console.log(`  lowest at scale ${SCALES[at]}; worst city there ${fmt(Math.max(...changes.map((c) => c[key][at]!)))}`);
  }
  if (changes.length > 1) console.log('\nleave one city out (generated): the scale the other cities choose, and this city at it');
  for (const c of changes.length > 1 ? changes : []) {
    const { at } = best(changes.filter((o) => o !== c).map((o) => o.generated));
    console.log(`  ${c.city.padEnd(20)} scale ${SCALES[at]}  ${fmt(c.generated[at]!)}`);
  }
  // One scale per city, chosen on its own few-shot days (every sampled region's MAE at each scale):
  // selection a target may make, set beside the one fixed scale the other cities choose.
  const rules = [
    ['validation windows, lowest MAE', 'pickVal'],
    ['all K days, lowest MAE (the pipeline)', 'pickFewShot'],
    ['all K days, smallest within one standard error of the lowest', 'pickFewShotSe'],
  ] as const;
  for (const [label, key] of rules) {
    console.log(`\nscale chosen per city on its few-shot ${label}: the scale, and the city's change at it`);
    for (const c of changes) console.log(`  ${c.city.padEnd(20)} scale ${SCALES[c[key]]}  ${fmt(c.generated[c[key]]!)}`);
    const picked = changes.map((c) => c.generated[c[key]]!);
    console.log(`  mean ${fmt(mean(picked))}; worst city ${fmt(Math.max(...picked))}; below random init in ${picked.filter((x) => x < 0).length} of ${picked.length}`);
  }
  const { at } = best(changes.map((c) => c.generated));
  const fixed = changes.map((c) => c.generated[at]!);
  console.log(`\nfixed scale ${SCALES[at]}: mean ${fmt(mean(fixed))}; worst city ${fmt(Math.max(...fixed))}; below random init in ${fixed.filter((x) => x < 0).length} of ${fixed.length}`);
  console.log(`\nzero-shot-scale: ${SCALES[at]}`);
}
