/**
 * Where should fine-tuned GPD start on a new city: the generated vector as the zero-shot row uses it
 * (times sampling.outputScale), or as the generator returns it (fine-tuning's own prescale then fits its
 * size on the K days)? Chosen on data before every test period (PROTOCOL.md):
 *
 *   npm run experiments:finetune-init -- [--cities a,b] [--regions 24] [--k 3] [--runs <folder>] [--recipes] [--per-horizon] [--baseline-guard]
 *
 * Each city is cut to the part before its test period (experiments/lib/pseudo-target.ts), its family-run
 * generator (trained on the partner's bank) draws and averages its vectors from the pseudo-target's K
 * days, and per region the run's fine-tuning recipe (finetune section of the family run: prescale,
 * guard, shrink) runs from random init (target-only), from the scaled vector and from the unscaled one;
 * printed: pseudo-test MAE (correction bound x1) of each, of the scaled vector untrained (zero-shot),
 * and of the better of the two fine-tuned GPD models per region on the few-shot validation days (a
 * choice a target can make); then, from the factor the pseudo-target's K days choose for its zero-shot
 * models (sampling.zeroShotScale), that zero-shot row and fine-tuning from it; with `--recipes`, target-only,
 * GPD from the scaled vector and the bank mean with the recipe's prescale, shrink or both switched off;
 * with `--per-horizon` and `--baseline-guard`, recipe variants for the same three (VARIANTS below).
 * Each city's rows are kept in results/finetune-init/k<K>/<city>.json, <city>.chosen.json,
 * <city>.recipe.json, <city>.recipe-bank.json and one file per variant, so a killed run resumes and cities run in separate
 * processes are summarised by one more run over all.
 * Also counted per city: the regions whose fine-tuning kept its (prescaled) start, by the guard or
 * because no epoch beat it on the validation days (then only prescale and shrink changed the model).
 */
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, generatedOutputScale } from '../src/index.js';
import { targetRegion } from '../src/train/target.js';
import { PSEUDO_TARGET_OPTIONS, cachedCityRows, commandLine, drawAsPipeline, familyPseudoTarget, familyRunBank, regionScorer, type FamilyPseudoTarget } from './lib/pseudo-target.js';
import { meanVector } from '../src/transfer/inits.js';
import { ROOT } from './lib/settings.js';
import { averageGroups, scaleGenerated } from '../src/transfer/stages.js';
import { regionRng } from '../src/transfer/region-eval.js';
import { finetune, type FinetuneResult } from '../src/train/finetune.js';
import type { FinetuneConfig } from '../src/train/config.js';
import { pooledMetrics } from '../src/train/predict.js';
import { chooseZeroShotScale } from '../src/transfer/zero-shot-scale.js';

const { values: args } = parseArgs({ options: { ...PSEUDO_TARGET_OPTIONS, recipes: { type: 'boolean', default: false }, 'per-horizon': { type: 'boolean', default: false }, 'baseline-guard': { type: 'boolean', default: false } } });
const ROWS = ['random init', 'target-only', 'GPD zero-shot (scaled)', 'GPD fine-tuned from the scaled vector', 'GPD fine-tuned from the unscaled vector', 'the better of the two on the K days'] as const;
type Row = (typeof ROWS)[number];
interface CityRows {
  city: string;
  regions: number;
  scale: number;
  mae: Record<Row, number>;
  /** Regions whose fine-tuning kept its (prescaled) start: the guard kept it, or no epoch beat it on validation. */
  keptStart: { targetOnly: number; gpdScaled: number };
}

await initBackend();
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const cacheDir = join(ROOT, 'results', 'finetune-init', `k${args.k}`);
mkdirSync(cacheDir, { recursive: true });
console.log(`${commandLine('experiments:finetune-init')}   # ${args.regions} pseudo-target regions per city, K = ${args.k}, correction bound x1; generators of ${relative(ROOT, args.runs!)}\n`);

/**
 * A city's pseudo-target and its averaged generated vectors, drawn once per process (every row set
 * reads them): as the generator returns them, and scaled by the family run's sampling.outputScale (its
 * saved sampling section may predate the option: then the default).
 */
interface Drawn {
  t: FamilyPseudoTarget;
  raw: Float32Array[];
  scale: number;
  scaled: Float32Array[];
}
/** `make(name)` computed once per city and process: every row set of a city reads the same value. */
function perCity<T>(make: (name: string) => T): (name: string) => T {
  const values = new Map<string, T>();
  return (name) => {
    if (!values.has(name)) values.set(name, make(name));
    return values.get(name)!;
  };
}

const pseudoTarget = perCity((name) => {
  const t = familyPseudoTarget(args.runs!, name, Number(args.k), Number(args.regions));
  if (!t) console.log(`${name}: no family run with a generator under ${args.runs} (skipped)`);
  return t;
});

const drawnCity = perCity((name): Drawn | null => {
  const t = pseudoTarget(name);
  if (!t) return null;
  const raw = averageGroups(drawAsPipeline(t), t.cfg.sampling.samples);
  const scale = generatedOutputScale(t.cfg.sampling, t.cfg.data.baseline);
  return { t, raw, scale, scaled: scaleGenerated(t.cfg.bank.model, raw, scale) };
});

/** The mean of the family run's bank (unscaled, as the pipeline's bank-mean row fine-tunes it). */
const bankMeanOf = perCity((name) => {
  const bank = familyRunBank(args.runs!, name);
  return bank ? meanVector(bank.vectors) : null;
});

/** A pseudo-target region as the pipeline's region job sees it: its windows, scorer and the run's fine-tuning from an init. */
function regionContext(t: FamilyPseudoTarget, region: number) {
  const { cfg, model, city, prep } = t;
  const target = targetRegion(prep, region);
  const rng = regionRng(cfg.seed, city.id, region);
  /** The run's fine-tuning (`recipe` overrides some of its steps: the recipe rows). */
  const fit = (init: Float32Array, label: string, recipe: Partial<FinetuneConfig> = {}) => finetune(model, init, target.dataset, { ...cfg.finetune, ...recipe }, rng.fork(label));
  const tune = async (init: Float32Array, label: string, recipe: Partial<FinetuneConfig> = {}) => (await fit(init, label, recipe)).params;
  return { target, score: regionScorer(model, target), rng, fit, tune };
}
type RegionContext = ReturnType<typeof regionContext>;

/** Each row's pseudo-test MAE averaged over the pseudo-target's regions; `region` scores one region's rows. */
async function meanRows<R extends string>(t: FamilyPseudoTarget, names: readonly R[], region: (ctx: RegionContext, i: number) => Promise<Record<R, number>>): Promise<Record<R, number>> {
  const sums = new Map<R, number[]>(names.map((r) => [r, []]));
  for (const [i, r] of t.regions.entries()) {
    const scores = await region(regionContext(t, r), i);
    for (const name of names) sums.get(name)!.push(scores[name]);
  }
  return Object.fromEntries(names.map((r) => [r, mean(sums.get(r)!)])) as Record<R, number>;
}

async function cityRows(name: string): Promise<CityRows | null> {
  const d = drawnCity(name);
  if (!d) return null;
  const { t, raw, scale, scaled } = d;
  const keptStart = { targetOnly: 0, gpdScaled: 0 };
  const kept = (r: FinetuneResult) => (r.keptInit || r.fit.bestEpoch === 0 ? 1 : 0);
  const mae = await meanRows(t, ROWS, async ({ target, score, rng, fit, tune }, i) => {
    const random = t.model.layout.init(rng.fork('random-init'));
    const scaledFit = await fit(scaled[i]!, 'gpd');
    const fromScaled = scaledFit.params;
    const fromRaw = await tune(raw[i]!, 'gpd');
    const val = (p: Float32Array) => pooledMetrics(t.model, p, [target.dataset], 'val').mae;
    const targetOnly = await fit(random, 'target-only');
    keptStart.targetOnly += kept(targetOnly);
    keptStart.gpdScaled += kept(scaledFit);
    return {
      'random init': score.test(random),
      'target-only': score.test(targetOnly.params),
      'GPD zero-shot (scaled)': score.test(scaled[i]!),
      'GPD fine-tuned from the scaled vector': score.test(fromScaled),
      'GPD fine-tuned from the unscaled vector': score.test(fromRaw),
      'the better of the two on the K days': score.test(val(fromRaw) < val(fromScaled) ? fromRaw : fromScaled),
    };
  });
  return { city: name, regions: t.regions.length, scale, mae, keptStart };
}

/**
 * The start at the factor the pseudo-target's own K days choose for its zero-shot models
 * (sampling.zeroShotScale = few-shot), kept in a file of its own beside the rows above.
 */
const CHOSEN_ROWS = ['GPD zero-shot (scale chosen on the K days)', 'GPD fine-tuned from the vector at that scale'] as const;
type ChosenRow = (typeof CHOSEN_ROWS)[number];
interface ChosenRows {
  city: string;
  regions: number;
  scale: number;
  mae: Record<ChosenRow, number>;
}

async function chosenRows(name: string): Promise<ChosenRows | null> {
  const d = drawnCity(name);
  if (!d) return null;
  const { t, raw } = d;
  const { scale } = chooseZeroShotScale(t.model, t.prep, t.regions, (r) => raw[t.regions.indexOf(r)]!);
  const atScale = scaleGenerated(t.cfg.bank.model, raw, scale);
  const mae = await meanRows(t, CHOSEN_ROWS, async ({ score, tune }, i) => ({
    [CHOSEN_ROWS[0]]: score.test(atScale[i]!),
    [CHOSEN_ROWS[1]]: score.test(await tune(atScale[i]!, 'gpd')),
  }) as Record<ChosenRow, number>);
  return { city: name, regions: t.regions.length, scale, mae };
}

/**
 * Rows `<start>, <recipe>`: the run's fine-tuning with a recipe's overrides, from each of the starts
 * whose full-recipe rows are above: random init (target-only), the scaled generated vector, the bank
 * mean. Only what the asked starts need is loaded: the bank mean's rows draw no generated vector.
 */
const STARTS = { 'target-only': 'target-only', 'GPD fine-tuned from the scaled vector': 'gpd', 'bank mean': 'bank-mean' } as const;
type Start = keyof typeof STARTS;
type Recipes = Record<string, Partial<FinetuneConfig>>;
const recipeRowNames = (starts: readonly Start[], recipes: Recipes): string[] => Object.keys(recipes).flatMap((r) => starts.map((s) => `${s}, ${r}`));
interface RecipeRows {
  city: string;
  regions: number;
  mae: Record<string, number>;
}

async function recipeRows(name: string, starts: readonly Start[], recipes: Recipes): Promise<RecipeRows | null> {
  const t = pseudoTarget(name);
  const scaled = starts.includes('GPD fine-tuned from the scaled vector') ? drawnCity(name)?.scaled : [];
  const bankMean = starts.includes('bank mean') ? bankMeanOf(name) : new Float32Array();
  if (!t || !scaled || !bankMean) return null;
  const mae = await meanRows(t, recipeRowNames(starts, recipes), async ({ score, rng, tune }, i) => {
    const init = (s: Start) => (s === 'target-only' ? t.model.layout.init(rng.fork('random-init')) : s === 'bank mean' ? bankMean : scaled[i]!);
    const out: Record<string, number> = {};
    for (const [label, recipe] of Object.entries(recipes)) for (const s of starts) out[`${s}, ${label}`] = score.test(await tune(init(s), STARTS[s], recipe));
    return out;
  });
  return { city: name, regions: t.regions.length, mae };
}

/**
 * The fine-tuning recipe's calibration steps (finetune.prescale, finetune.shrink: per-region
 * least-squares factors on one part of the K days) switched off, for target-only and for GPD from the
 * scaled vector (<city>.recipe.json), and for the other transferred start a bank gives without a
 * generator, the bank mean, with its full-recipe row (<city>.recipe-bank.json): do the per-region
 * factors still help once the generated start is already scaled, and is what they cost GPD particular to it?
 */
const RECIPES = { 'no prescale': { prescale: false }, 'no shrink': { shrink: false }, 'neither': { prescale: false, shrink: false } } as const;
const RECIPE_STARTS: readonly Start[] = ['target-only', 'GPD fine-tuned from the scaled vector'];
const BANK_RECIPES = { 'full recipe': {}, ...RECIPES } as const;

/**
 * Recipe variants for all three starts, each enabled by its flag and kept in <city>.<file>.json:
 * `--per-horizon` (finetune.calibration = per-horizon: prescale and shrink fit one factor per horizon
 * step) and `--baseline-guard` (finetune.baselineGuard: the baseline alone unless the model clearly
 * beats it on the validation days).
 */
const VARIANTS = {
  'per-horizon': { file: 'horizon', recipe: { calibration: 'per-horizon' } },
  'baseline-guard': { file: 'baseline-guard', recipe: { baselineGuard: true } },
} as const satisfies Record<string, { file: string; recipe: Partial<FinetuneConfig> }>;
type Variant = keyof typeof VARIANTS;
const ALL_STARTS = Object.keys(STARTS) as Start[];
const variantRecipes = (v: Variant): Recipes => ({ [v]: VARIANTS[v].recipe });

const changes = new Map<string, number[]>();
const keptTotal = { targetOnly: 0, gpdScaled: 0, regions: 0 };
for (const name of args.cities!.split(',')) {
  const usable = (saved: { regions: number }) => saved.regions === Number(args.regions);
  const first = await cachedCityRows(join(cacheDir, `${name}.json`), (saved: CityRows) => usable(saved) && saved.keptStart !== undefined, () => cityRows(name));
  const chosen = first ? await cachedCityRows(join(cacheDir, `${name}.chosen.json`), usable, () => chosenRows(name)) : null;
  const recipes = first && args.recipes ? await cachedCityRows(join(cacheDir, `${name}.recipe.json`), usable, () => recipeRows(name, RECIPE_STARTS, RECIPES)) : null;
  const bankRecipes = first && args.recipes ? await cachedCityRows(join(cacheDir, `${name}.recipe-bank.json`), usable, () => recipeRows(name, ['bank mean'], BANK_RECIPES)) : null;
  const variants: { v: Variant; rows: RecipeRows }[] = [];
  for (const v of Object.keys(VARIANTS) as Variant[]) {
    if (!first || !args[v]) continue;
    const rows = await cachedCityRows(join(cacheDir, `${name}.${VARIANTS[v].file}.json`), usable, () => recipeRows(name, ALL_STARTS, variantRecipes(v)));
    if (rows) variants.push({ v, rows });
  }
  if (!first || !chosen) continue;
  const variantMae = Object.assign({}, ...variants.map((x) => x.rows.mae)) as Record<string, number>;
  const rows: { regions: number; scale: number; mae: Record<string, number> } = { ...first, mae: { ...first.mae, ...chosen.mae, ...recipes?.mae, ...bankRecipes?.mae, ...variantMae } };
  const base = rows.mae['target-only'];
  keptTotal.targetOnly += first.keptStart.targetOnly;
  keptTotal.gpdScaled += first.keptStart.gpdScaled;
  keptTotal.regions += first.regions;
  console.log(`${name} (${rows.regions} regions, output scale ${rows.scale}; chosen on the K days ${chosen.scale})`);
  console.log(`  fine-tuning kept its start (guard, or no better epoch): target-only ${first.keptStart.targetOnly}/${first.regions}, GPD from the scaled vector ${first.keptStart.gpdScaled}/${first.regions}`);
  for (const r of [...ROWS, ...CHOSEN_ROWS, ...(recipes ? recipeRowNames(RECIPE_STARTS, RECIPES) : []), ...(bankRecipes ? recipeRowNames(['bank mean'], BANK_RECIPES) : []), ...variants.flatMap((x) => recipeRowNames(ALL_STARTS, variantRecipes(x.v)))]) {
    const change = rows.mae[r]! / base - 1;
    if (r !== 'target-only') changes.set(r, [...(changes.get(r) ?? []), change]);
    console.log(`  ${r.padEnd(54)} ${rows.mae[r]!.toFixed(3)}${r === 'target-only' ? '' : ` (${change >= 0 ? '+' : ''}${(change * 100).toFixed(2)}%)`}`);
  }
}
if (changes.size > 0) {
  console.log(`\nfine-tuning kept its start in ${keptTotal.targetOnly} of ${keptTotal.regions} regions from random init and ${keptTotal.gpdScaled} of ${keptTotal.regions} from the scaled vector`);
  console.log('\nmean change against target-only over cities (and how many cities lower):');
  for (const [r, xs] of changes) console.log(`  ${r.padEnd(54)} ${mean(xs) >= 0 ? '+' : ''}${(mean(xs) * 100).toFixed(2)}%  (${xs.filter((x) => x < 0).length}/${xs.length})`);
}
