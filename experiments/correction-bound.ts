/**
 * Choosing the correction bound (train/correction-bound.ts) on data before every test period
 * (PROTOCOL.md: defaults are chosen on source-side data; a target's test period only scores):
 *
 *   npm run experiments:correction-bound -- [--cities a,b] [--regions 24] [--k 3] [--runs <folder>]
 *
 * Each city is cut to the part before its test period (the first 70% of its timeline) and treated as a
 * few-shot target of its own, as experiments/finetune-guard.ts does: the K days before ITS last 30% are
 * the few-shot data, that 30% the pseudo-test. On a seeded sample of regions, four models are run on
 * the pseudo-test: random init, target-only fine-tuning (the default recipe, train/finetune.ts), and,
 * zero-shot, the shared model and the bank mean of the bank the city's family run used as its source
 * (another city of its family, trained on that city's own training part; read from <runs>/<city>__family__k3__s1__main).
 * Each model's pseudo-test MAE is printed unbounded and with the bound at several factors, with the
 * ratio to unbounded; the last lines give the mean and worst ratio over cities per factor.
 */
import { parseArgs } from 'node:util';
import { loadCity, initBackend, createForecaster, FinetuneConfig } from '../src/index.js';
import { prepareTarget, targetRegion } from '../src/train/target.js';
import { PSEUDO_TARGET_OPTIONS, beforeTest, familyRunBank, pseudoTargetRegions, regionScorer } from './lib/pseudo-target.js';
import { cityManifest } from './lib/settings.js';
import { finetune } from '../src/train/finetune.js';
import { meanVector } from '../src/transfer/inits.js';
import { regionRng } from '../src/transfer/region-eval.js';

const { values: args } = parseArgs({ options: PSEUDO_TARGET_OPTIONS });
const FACTORS = [0, 1, 1.5, 2, 3];
const MODELS = ['random_init', 'target_only', 'source_transfer_zero_shot', 'bank_mean_zero_shot'] as const;

/** The shared model and bank mean of the bank the city's family run (seed 1, K = 3) took its sources from. */
function sourceModels(city: string): { shared: Float32Array; mean: Float32Array; sources: string } | null {
  const bank = familyRunBank(args.runs!, city);
  if (!bank?.shared) return null;
  return { shared: bank.shared, mean: meanVector(bank.vectors), sources: bank.index.cities.map((c) => c.id).join('+') };
}

await initBackend();
const model = createForecaster('stgcn');
const cfg = FinetuneConfig.parse({});
const ratios = new Map<string, number[]>();
for (const name of args.cities!.split(',')) {
  const city = beforeTest(loadCity(cityManifest(name)));
  const prep = prepareTarget(city, Number(args.k), 0, 'seasonal-ar', cfg.holdout);
  const src = sourceModels(name);
  const regions = pseudoTargetRegions(city, Number(args.regions));
  const sums = new Map<string, number>();
  const add = (k: string, v: number) => sums.set(k, (sums.get(k) ?? 0) + v);
  for (const region of regions) {
    const t = targetRegion(prep, region);
    const score = regionScorer(model, t);
    const rng = regionRng(1, city.id, region);
    const init = model.layout.init(rng.fork('random-init'));
    const params: Partial<Record<(typeof MODELS)[number], Float32Array>> = {
      random_init: init,
      target_only: (await finetune(model, init, t.dataset, cfg, rng.fork('target-only'))).params,
      ...(src ? { source_transfer_zero_shot: src.shared, bank_mean_zero_shot: src.mean } : {}),
    };
    for (const [m, p] of Object.entries(params)) score.testAt(p, FACTORS).forEach((mae, i) => add(`${m}|${FACTORS[i]}`, mae));
  }
  console.log(`${name}${src ? ` (zero-shot models from ${src.sources})` : ' (no family bank found: zero-shot rows skipped)'}`);
  for (const m of MODELS) {
    const off = sums.get(`${m}|0`);
    if (off === undefined) continue;
    const row = FACTORS.map((f) => {
      const r = sums.get(`${m}|${f}`)! / off;
      if (f > 0) ratios.set(`${m} x${f}`, [...(ratios.get(`${m} x${f}`) ?? []), r]);
      return `${f === 0 ? 'off' : `x${f}`} ${(sums.get(`${m}|${f}`)! / regions.length).toFixed(3)}${f === 0 ? '' : ` (${r.toFixed(3)})`}`;
    });
    console.log(`  ${m.padEnd(26)} ${row.join(' | ')}`);
  }
}
console.log('\nmean (worst) ratio of bounded to unbounded pseudo-test MAE over cities (below 1: the bound helps):');
for (const [k, v] of ratios) console.log(`  ${k.padEnd(32)} ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(4)} (${Math.max(...v).toFixed(4)})`);
