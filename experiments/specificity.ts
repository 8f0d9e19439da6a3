/**
 * Region specificity of the generator (PROTOCOL.md), the inner loop for generator work:
 *
 *   npm run experiments:specificity -- --quick [--set key=value ...] [--cities a,b] [--seed 1] [--out dir]
 *
 * One reduced bank over the source cities of the four families (built once under <out>/banks/ and
 * reused), 20% of each city's regions held out from generator training (chosen by seed), and for
 * each held-out region r three vectors scored on r's validation period under the bank's own encoding:
 * the generated one (from r's prompt), the bank mean (of the generator's training vectors) and r's
 * own bank vector. Specificity of a city = (sum MAE_mean - sum MAE_generated) / (sum MAE_mean -
 * sum MAE_own). Prints a line per city and ends with `specificity-mean: <x>` (the mean over cities).
 * `--prompt-days N` builds the held-out regions' prompts from the last N days only, as a target's.
 * `--set` overrides any config key (e.g. diffusion.*, prompts.*) so every lever is judged the same way;
 * each setting trains its own generator under <out>/generators/<hash>/ (resumable).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync } from 'node:fs';
import { loadConfig } from '../src/config/load.js';
import { resolveSources } from '../src/config/cities.js';
import { initBackend } from '../src/runtime/backend.js';
import { buildBank } from '../src/bank/build.js';
import { loadBank } from '../src/bank/store.js';
import { createForecaster } from '../src/models/registry.js';
import { prepareCity, regionDatasets } from '../src/train/dataset.js';
import { pooledMetrics } from '../src/train/predict.js';
import { bankEntryPrompts, trainGenerator } from '../src/transfer/generate.js';
import { fitRunPromptSpec, generateVectors } from '../src/transfer/stages.js';
import { concatPrompt, loadPromptSpec, regionPrompts, savePromptSpec } from '../src/prompts/build.js';
import { sourceSplit } from '../src/data/splits.js';
import { stepsPerDay } from '../src/data/city.js';
import { knnPredict, ridgePredict } from './lib/prompt-regression.js';
import { meanVector } from '../src/transfer/inits.js';
import { bankFunctionalSamples } from '../src/transfer/functional.js';
import { Rng, hash32 } from '../src/util/prng.js';
import { ProgressRenderer } from '../src/cli/progress.js';

const root = resolve(new URL('..', import.meta.url).pathname);
const CITIES = ['la-loop', 'shenzhen-sztaxi40', 'nyc-bike-grid', 'montevideo-bus', 'didi-chengdu', 'didi-xian', 'metro-shanghai', 'metro-chongqing'];
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    cities: { type: 'string', default: CITIES.join(',') },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: join(root, 'results', 'specificity') },
    set: { type: 'string', multiple: true, default: [] as string[] },
    'held-out-share': { type: 'string', default: '0.2' },
    /** What maps a prompt to a vector: the diffusion generator (default), or as diagnostics of the prompts alone ridge regression / k nearest prompts. */
    predictor: { type: 'string', default: 'diffusion' },
    /**
     * Held-out regions' prompts from only the last N whole days of their training part, as a target
     * has them (0 = the whole training part, the same range as the generator's training prompts).
     */
    'prompt-days': { type: 'string', default: '0' },
  },
});
const cities = args.cities!.split(',');
/** The reduced budget: bank and generator small enough for the inner loop (under 30 min on 2 cores once the bank exists). */
const BUDGET = args.quick
  ? ['bank.maxRegions=32', 'bank.epochs=10', 'bank.sharedEpochs=5', 'diffusion.steps=600']
  : ['bank.maxRegions=64', 'bank.epochs=20', 'bank.sharedEpochs=8', 'diffusion.steps=1200'];
const seed = Number(args.seed);
const out = resolve(args.out!);
const sources = cities.map((c) => join(root, 'cities', `${c}.city.json`));
const cfg = loadConfig(undefined, [...BUDGET, `data.sources=${JSON.stringify(sources)}`, 'data.target=synthetic:synth-d', `seed=${seed}`, 'bank.seed=1', ...args.set!]);

await initBackend();
const renderer = new ProgressRenderer({ plain: !process.stdout.isTTY, logEverySeconds: 30 });
const t0 = performance.now();
const cityList = resolveSources(cfg);
// One bank per source set and everything the bank depends on (its section, the encoding).
const bankKey = (hash32(JSON.stringify({ cities, bank: { ...cfg.bank, seed: 1 }, feature: cfg.data.feature, baseline: cfg.data.baseline })) >>> 0).toString(16);
const bankDir = join(out, 'banks', bankKey);
await buildBank({ ...cfg.bank, cities: cityList, dir: bankDir, seed: 1, feature: cfg.data.feature, baseline: cfg.data.baseline, onProgress: renderer.onProgress, onWarning: (m) => renderer.log(`warning: ${m}`) });
const bank = loadBank(bankDir);
const bankMinutes = (performance.now() - t0) / 60000;

// 20% of each city's regions, by seed, never seen by the generator.
const heldOut = new Set<number>();
for (const c of cities) {
  const idx = bank.entries.map((e, i) => [e.city, i] as const).filter(([city]) => city === c).map(([, i]) => i);
  const perm = new Rng(seed).fork(`specificity:${c}`).permutation(idx.length);
  perm.slice(0, Math.max(1, Math.round(idx.length * Number(args['held-out-share'])))).forEach((k) => heldOut.add(idx[k]!));
}
const trainIdx = bank.vectors.map((_, i) => i).filter((i) => !heldOut.has(i));

const genKey = (hash32(JSON.stringify({ bankKey, seed, prompts: cfg.prompts, diffusion: cfg.diffusion, held: args['held-out-share'] })) >>> 0).toString(16);
const genDir = join(out, 'generators', genKey);
mkdirSync(genDir, { recursive: true });
const specFile = join(genDir, 'prompt-spec.json');
const spec = existsSync(specFile) ? loadPromptSpec(specFile) : await fitRunPromptSpec(cityList, cfg);
if (!existsSync(specFile)) savePromptSpec(specFile, spec);
const prompts = bankEntryPrompts(bank, cityList, spec);
const promptDays = Number(args['prompt-days']);
if (promptDays > 0) {
  // Only the held-out regions' prompts change: the generator still trains on whole-range prompts.
  for (const city of cityList) {
    const train = sourceSplit(city).train;
    const start = Math.max(train.start, train.end - promptDays * stepsPerDay(city));
    const few = regionPrompts(city, spec, { start, end: train.end });
    bank.entries.forEach((e, i) => {
      if (e.city !== city.id || !heldOut.has(i)) return;
      prompts.spatial[i] = few.spatial[e.region]!;
      prompts.temporal[i] = few.temporal[e.region]!;
    });
  }
}
const model = createForecaster(bank.settings.model);
const held = [...heldOut].sort((a, b) => a - b);
const full = (i: number) => concatPrompt(prompts.spatial[i]!, prompts.temporal[i]!);
let generated: Float32Array[];
let generatorInfo = '';
if (args.predictor === 'ridge' || args.predictor?.startsWith('knn')) {
  generated = args.predictor === 'ridge'
    ? ridgePredict(trainIdx.map(full), trainIdx.map((i) => bank.vectors[i]!), held.map(full))
    : knnPredict(trainIdx.map(full), trainIdx.map((i) => bank.vectors[i]!), held.map(full), Number(args.predictor.slice(3) || 5));
  generatorInfo = `predictor ${args.predictor}`;
} else {
const samples = cfg.diffusion.functionalWeight > 0 ? bankFunctionalSamples(bank, cityList) : null;
const { generator } = await trainGenerator({
  layout: model.layout,
  ...(samples ? { functional: { model, samples: trainIdx.map((i) => samples[i]!) } } : {}),
  vectors: trainIdx.map((i) => bank.vectors[i]!),
  prompts: { spatial: trainIdx.map((i) => prompts.spatial[i]!), temporal: trainIdx.map((i) => prompts.temporal[i]!) },
  config: cfg,
  dir: join(genDir, 'generator'),
  seed,
  onProgress: renderer.onProgress,
});
renderer.done();
generated = generateVectors(generator, prompts, cfg.sampling, new Rng(seed).fork('specificity-generate').seed, held);
generator.dispose();
generatorInfo = `generator ${genDir}`;
}
const genOf = new Map(held.map((i, k) => [i, generated[k]!]));
const mean = meanVector(trainIdx.map((i) => bank.vectors[i]!));

console.log(`bank ${bankDir} (${bank.vectors.length} regions, ${bankMinutes.toFixed(1)} min); ${generatorInfo}; ${held.length} held-out regions; held-out prompts from ${promptDays > 0 ? `the last ${promptDays} day(s)` : 'the whole training part'}; overrides: ${args.set!.join(' ') || 'none'}`);
const specs: number[] = [];
for (const c of cities) {
  const city = cityList.find((x) => x.id === c)!;
  const prep = prepareCity(city, cfg.data.feature, cfg.data.baseline, cfg.bank.encodingFitDays);
  const sums = { own: 0, mean: 0, gen: 0 };
  let n = 0;
  for (const i of held) {
    const e = bank.entries[i]!;
    if (e.city !== c) continue;
    const ds = regionDatasets(city, prep, e.region);
    sums.own += pooledMetrics(model, bank.vectors[i]!, ds, 'val').mae;
    sums.mean += pooledMetrics(model, mean, ds, 'val').mae;
    sums.gen += pooledMetrics(model, genOf.get(i)!, ds, 'val').mae;
    n++;
  }
  const s = (sums.mean - sums.gen) / (sums.mean - sums.own);
  specs.push(s);
  console.log(`${c.padEnd(18)} held-out ${String(n).padStart(2)}  MAE own ${(sums.own / n).toFixed(4)}  bank mean ${(sums.mean / n).toFixed(4)}  generated ${(sums.gen / n).toFixed(4)}  specificity ${s.toFixed(3)}`);
}
console.log(`wall: ${((performance.now() - t0) / 60000).toFixed(1)} min`);
console.log(`specificity-mean: ${(specs.reduce((a, b) => a + b, 0) / specs.length).toFixed(3)}`);
