/**
 * Choosing the fine-tuning holdout and guard on data before every test period (PROTOCOL.md: defaults
 * are chosen on source-side data; a target's test period only scores):
 *
 *   npm run experiments:finetune-guard -- [--cities a,b] [--regions 24] [--k 3]
 *
 * Each city is cut to the part before its test period (the first 70% of its timeline), and that part
 * is treated as a few-shot target of its own: K days before ITS last 30% are the few-shot data, the
 * last 30% the pseudo-test. On a seeded sample of regions, target-only fine-tuning from a random init
 * (the case that diverged on a metro city) runs once per holdout (`days`: the last whole day
 * validates; `tail`: the last 20%), and the guard (train/finetune.ts) is applied afterwards at several
 * thresholds: pseudo-test MAE of the untrained init, and of fine-tuning kept at each threshold
 * (shrinking on, as by default). Prints one table per city and the mean ratio to the init over cities.
 */
import { parseArgs } from 'node:util';
import { loadCity, initBackend, createForecaster, FinetuneConfig } from '../src/index.js';
import { prepareTarget, targetRegion } from '../src/train/target.js';
import { beforeTest, pseudoTargetRegions } from './lib/pseudo-target.js';
import { ALL_CITIES, cityManifest } from './lib/settings.js';
import { fitForecaster } from '../src/train/fit.js';
import { trainConfigOf } from '../src/train/config.js';
import { predictWindows } from '../src/train/predict.js';
import { prescaleToTraining, shrinkToBaseline } from '../src/train/calibrate.js';
import { windowLosses, clearlyBetter } from '../src/train/finetune.js';
import { maskedMetrics } from '../src/metrics/metrics.js';
import { HOLDOUT_KINDS } from '../src/data/splits.js';
import { regionRng } from '../src/transfer/region-eval.js';

const { values: args } = parseArgs({ options: { cities: { type: 'string', default: ALL_CITIES.join(',') }, regions: { type: 'string', default: '24' }, k: { type: 'string', default: '3' }, finetune: { type: 'string', default: '{}' }, holdouts: { type: 'string', default: HOLDOUT_KINDS.join(',') } } });
const THRESHOLDS = [0, 0.5, 1, 2, 3];

await initBackend();
const model = createForecaster('stgcn');
/** `--finetune '{"lr": 3e-4}'`: other fine-tuning settings to compare (JSON, finetune section keys). */
const cfg = FinetuneConfig.parse(JSON.parse(args.finetune!));
const ratios = new Map<string, number[]>();
for (const name of args.cities!.split(',')) {
  const city = beforeTest(loadCity(cityManifest(name)));
  const regions = pseudoTargetRegions(city, Number(args.regions));
  for (const holdout of args.holdouts!.split(',') as (typeof HOLDOUT_KINDS)[number][]) {
    let prep;
    try {
      prep = prepareTarget(city, Number(args.k), 0, 'seasonal-ar', holdout);
    } catch (err) {
      console.log(`${name}: ${(err as Error).message}`);
      break;
    }
    const sums = new Map<string, number>();
    const add = (k: string, v: number) => sums.set(k, (sums.get(k) ?? 0) + v);
    for (const region of regions) {
      const t = targetRegion(prep, region);
      const rng = regionRng(1, city.id, region);
      const init = model.layout.init(rng.fork('random-init'));
      const start = prescaleToTraining(model, init, t.dataset).params;
      const fit = await fitForecaster(model, [t.dataset], start, trainConfigOf(cfg), rng.fork('target-only'));
      const mae = (p: Float32Array) => maskedMetrics(predictWindows(model, shrinkToBaseline(model, p, t.dataset).params, t.dataset.adjacency, t.dataset.n, t.test, t.dataset.norm), t.test.yRaw, t.test.yMask, 6).maeMean;
      const maeInit = maskedMetrics(predictWindows(model, init, t.dataset.adjacency, t.dataset.n, t.test, t.dataset.norm), t.test.yRaw, t.test.yMask, 6).maeMean;
      const maeStart = mae(start);
      const maeFit = mae(fit.params);
      const before = windowLosses(model, start, t.dataset, cfg.lossSpace);
      const after = windowLosses(model, fit.params, t.dataset, cfg.lossSpace);
      add('init', maeInit);
      for (const z of THRESHOLDS) add(`z=${z}`, fit.bestEpoch > 0 && clearlyBetter(before, after, z) ? maeFit : maeStart);
    }
    const init = sums.get('init')!;
    const row = THRESHOLDS.map((z) => {
      const r = sums.get(`z=${z}`)! / init;
      ratios.set(`${holdout} z=${z}`, [...(ratios.get(`${holdout} z=${z}`) ?? []), r]);
      return `z=${z} ${(sums.get(`z=${z}`)! / regions.length).toFixed(3)} (${r.toFixed(3)})`;
    });
    console.log(`${name.padEnd(18)} ${holdout.padEnd(4)} init ${(init / regions.length).toFixed(3)} | ${row.join(' | ')}`);
  }
}
console.log('\nmean ratio of fine-tuned to untrained-init MAE over cities (below 1: fine-tuning helps):');
for (const [k, v] of ratios) console.log(`  ${k.padEnd(12)} ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(4)}  worst ${Math.max(...v).toFixed(4)}`);
