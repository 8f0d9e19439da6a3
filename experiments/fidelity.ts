/**
 * Is the generator the weak link, or the transfer? (npm run experiments:fidelity -- <run folder>,
 * a few minutes.)
 *
 * A finished run's generator is asked for models of its own SOURCE regions, and every candidate is
 * scored on that source city's validation period (the last 20%, which no bank model trained on; the
 * bank's early stopping looked at it, which favours the bank's own vectors if anything). Two
 * encodings, to separate what goes wrong where:
 *
 * - `source`: the encoding the bank trained with (fitted on the city's training part, or on K-day
 *   blocks with bank.encodingFitDays) and the prompts the generator trained on. Generated vs the
 *   region's own bank vector says how well the generator reproduces what it learnt from; the
 *   generator's held-out regions (its model-selection set) and its training regions are reported apart.
 * - `as-target`: the source city treated like a target: encoding and prompts fitted on the K days right
 *   before the validation period, scored on the validation period. Same city, same models; only the
 *   few-shot regime changes.
 *
 * References in both: zero correction (the seasonal baseline alone), a random init, the bank mean, and
 * the shared model when the bank has one. The real target's zero-shot numbers are in the run itself.
 *
 *   npm run experiments:fidelity -- results/2026-12-02-prescale/runs/la-loop__all__k3__s1__main
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveRunCities } from '../src/config/cities.js';
import { RunFolder, RUN_FILES } from '../src/transfer/run-folder.js';
import { loadBank } from '../src/bank/store.js';
import { concatPrompt, loadPromptSpec, regionPrompts } from '../src/prompts/build.js';
import { bankEntryPrompts, selectPrompts, type PromptSet } from '../src/transfer/generate.js';
import { loadGenerator } from '../src/diffusion/generator.js';
import { fitValueEncoding } from '../src/data/baseline.js';
import { stepsPerDay, type City } from '../src/data/city.js';
import { regionSubgraph } from '../src/data/subgraph.js';
import { regionWindows } from '../src/data/windows.js';
import { sourceSplit } from '../src/data/splits.js';
import { Rng } from '../src/util/prng.js';
import { initBackend } from '../src/runtime/backend.js';
import { IN_STEPS } from '../src/data/task.js';
import type { StepRange } from '../src/data/range.js';
import { createForecaster } from '../src/models/registry.js';
import { pooledMetrics } from '../src/train/predict.js';
import { prepareCity, regionDatasets, type RegionDataset } from '../src/train/dataset.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'max-regions': { type: 'string', default: '40' },
    cities: { type: 'string' },
    guidance: { type: 'string' },
  },
});
const run = positionals[0];
if (!run) {
  console.error('usage: npm run experiments:fidelity -- <finished run folder> [--max-regions N per source city] [--cities a,b] [--guidance g]');
  process.exit(2);
}
const runDir = resolve(run);
const runFolder = new RunFolder(runDir);
for (const f of ['config', 'generator', 'promptSpec'] as const) {
  if (!runFolder.has(f)) {
    console.error(`${runDir}: not a run folder with a trained generator (no ${RUN_FILES[f]})`);
    process.exit(2);
  }
}
const cfg = runFolder.readConfig().config;
if (!cfg.bank.dir) {
  console.error(`${runDir}: its config has no bank.dir; this diagnostic reads the bank from there`);
  process.exit(2);
}
if (args.guidance !== undefined) cfg.sampling.guidance = Number(args.guidance);
await initBackend();
const maxRegions = Number(args['max-regions']);
const { sources } = resolveRunCities(cfg);
const bank = loadBank(resolve(cfg.bank.dir));
const spec = loadPromptSpec(runFolder.path('promptSpec'));
const generator = loadGenerator(runFolder.path('generator'));
const model = createForecaster(cfg.bank.model);
const K = cfg.data.kDays;
const feature = cfg.data.feature;

// The generator's held-out set, drawn exactly as trainGenerator draws it.
const n = bank.vectors.length;
const perm = new Rng(cfg.seed).fork('generator-holdout').permutation(n);
const heldOut = new Set(perm.slice(0, Math.max(1, Math.round(n * cfg.diffusion.valShare))));
const bankMean = new Float32Array(bank.layout.paramCount);
for (const v of bank.vectors) v.forEach((x, i) => (bankMean[i] += x / n));
const zero = new Float32Array(bank.layout.paramCount);
const randomInit = model.layout.init(new Rng(cfg.seed).fork('random-init'));

function generate(p: PromptSet): Float32Array[] {
  const use = selectPrompts(p, cfg.prompts.spatial, cfg.prompts.temporal !== 'none');
  const s = cfg.sampling;
  return generator.generate(
    { ...(use.spatial ? { spatial: use.spatial } : {}), ...(use.temporal ? { temporal: use.temporal } : {}) },
    { sampler: s.sampler, steps: s.steps, eta: s.eta, guidance: s.guidance, seed: new Rng(cfg.seed).fork('fidelity').seed },
  );
}

/** The city's validation period scored under an encoding fitted on the K days right before it. */
function asTargetDataset(city: City, region: number, fewShot: StepRange, val: StepRange): RegionDataset {
  const norm = fitValueEncoding(city, fewShot, feature, cfg.data.baseline);
  const sub = regionSubgraph(city, region);
  const empty = regionWindows(city, sub, fewShot, norm);
  const test = regionWindows(city, sub, val, norm, { historyStart: val.start - IN_STEPS });
  return { train: empty, val: test, adjacency: sub.adjacency, n: sub.n, norm };
}

type Row = { name: string; held: number[]; trained: number[]; dist: number[] };
/** RMS distance in the generator's normalised parameter space (each coordinate scaled by the bank's std). */
const gnorm = generator.normalizer;
function distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let p = 0; p < a.length; p++) s += ((a[p]! - b[p]!) / gnorm.std[p]!) ** 2;
  return Math.sqrt(s / a.length);
}
const fmt = (xs: number[]) => (xs.length ? (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(4) : '-');

const sourcePrompts = bankEntryPrompts(bank, sources, spec);
const fullPrompts = sourcePrompts.spatial.map((sp, i) => concatPrompt(sp, sourcePrompts.temporal[i]!));
/** The bank vector of the most similar OTHER entry's prompt (cosine): does the prompt tell regions' models apart at all? */
function nearestOther(i: number): Float32Array {
  const q = fullPrompts[i]!;
  let best = -1, bestCos = -Infinity;
  fullPrompts.forEach((p, j) => {
    if (j === i) return;
    let ab = 0, aa = 0, bb = 0;
    for (let d = 0; d < q.length; d++) (ab += q[d]! * p[d]!), (aa += q[d]! * q[d]!), (bb += p[d]! * p[d]!);
    const c = aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : -1;
    if (c > bestCos) (bestCos = c), (best = j);
  });
  return bank.vectors[best]!;
}
console.log(`run ${runDir} (guidance ${cfg.sampling.guidance})\nbank ${bank.dir}: ${n} vectors (${bank.layout.model}); generator held-out ${heldOut.size}; K = ${K}; encoding ${cfg.data.baseline}${cfg.bank.encodingFitDays ? `, source blocks of ${cfg.bank.encodingFitDays} days` : ''}`);
for (const city of sources) {
  if (args.cities && !args.cities.split(',').includes(city.id)) continue;
  const idx = bank.entries.map((e, i) => [e, i] as const).filter(([e]) => e.city === city.id).slice(0, maxRegions);
  if (idx.length === 0) continue;
  const prep = prepareCity(city, feature, cfg.data.baseline, cfg.bank.encodingFitDays);
  const split = sourceSplit(city);
  const fewShot = { start: split.val.start - K * stepsPerDay(city), end: split.val.start };
  const genSource = generate({ spatial: idx.map(([, i]) => sourcePrompts.spatial[i]!), temporal: idx.map(([, i]) => sourcePrompts.temporal[i]!) });
  const kPrompts = regionPrompts(city, spec, fewShot);
  const genTarget = generate({ spatial: idx.map(([e]) => kPrompts.spatial[e.region]!), temporal: idx.map(([e]) => kPrompts.temporal[e.region]!) });

  for (const mode of ['source', 'as-target'] as const) {
    const rows: Row[] = ['own bank vector', 'generated', 'nearest other prompt', 'bank mean', ...(bank.shared ? ['shared model'] : []), 'zero correction (baseline)', 'random init'].map((name) => ({ name, held: [], trained: [], dist: [] }));
    let genBeatsZero = 0;
    idx.forEach(([e, i], j) => {
      const ds = mode === 'source' ? regionDatasets(city, prep, e.region) : [asTargetDataset(city, e.region, fewShot, split.val)];
      const cands = [bank.vectors[i]!, (mode === 'source' ? genSource : genTarget)[j]!, nearestOther(i), bankMean, ...(bank.shared ? [bank.shared] : []), zero, randomInit];
      const maes = cands.map((v) => pooledMetrics(model, v, ds, 'val').mae);
      maes.forEach((m, r) => (heldOut.has(i) ? rows[r]!.held : rows[r]!.trained).push(m));
      cands.forEach((v, r) => rows[r]!.dist.push(distance(v, bank.vectors[i]!)));
      if (maes[1]! < maes[cands.length - 2]!) genBeatsZero++;
    });
    console.log(`\n${city.id}, ${mode} encoding: mean val MAE over ${idx.length} regions: held-out (${rows[0]!.held.length}), generator-trained (${rows[0]!.trained.length}), all; RMS distance to the own vector (bank-std units)`);
    for (const r of rows) console.log(`  ${r.name.padEnd(28)} ${fmt(r.held).padStart(8)} ${fmt(r.trained).padStart(8)} ${fmt([...r.held, ...r.trained]).padStart(8)} ${fmt(r.dist).padStart(8)}`);
    console.log(`  generated beats zero correction in ${genBeatsZero}/${idx.length} regions`);
  }
}
generator.dispose();
