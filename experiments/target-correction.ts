/**
 * A diagnostic of finished runs, not a selection: does the generated correction point the right way on
 * the target's test period, and at what size would it help? Reads each run folder's saved predictions
 * (eval/), so it trains and generates nothing:
 *
 *   npm run experiments:target-correction -- <run folder> [<run folder> ...]
 *
 * Per run and per model-based row with a correction (GPD zero-shot, the untrained bank mean): the
 * correction c = forecast - seasonal baseline (GPD's divided by the scale its region file records, or
 * forecast again from the run's generated vector where that scale is 0, so it is the generator's own), against the residual r = truth - seasonal baseline over the observed test
 * targets: their correlation per horizon, RMS(c) / RMS(r), and the pooled test MAE of baseline + s x c
 * over a grid of scales s (unbounded: the runs' scores bound corrections by the few-shot range, so the
 * MAE at the run's own scale differs a little from its table). The test period only describes here;
 * sampling.outputScale is chosen on pseudo-targets (experiments:zero-shot-scale).
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { RunFolder, createForecaster, initBackend, resolveRunCities, prepareTarget, targetRegion, MetricsAccumulator, OUT_STEPS } from '../src/index.js';
import { predictWindows } from '../src/train/predict.js';
import { readGenerated } from '../src/transfer/stages.js';
import { chooseTargetRegions } from '../src/transfer/pipeline.js';
import { gpdRowsScale, readEvalRegion } from '../src/transfer/eval-file.js';
import { commandLine } from './lib/pseudo-target.js';

const SCALES = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 1];

const ROWS = ['gpd_zero_shot', 'bank_mean_zero_shot'] as const;
const runs = process.argv.slice(2);
if (runs.length === 0) {
  console.error('usage: npm run experiments:target-correction -- <run folder> [<run folder> ...]');
  process.exit(2);
}
await initBackend();
console.log(`${commandLine('experiments:target-correction')}\n`);
for (const dir of runs) {
  const cfg = new RunFolder(dir).readConfig().config;
  const { target } = resolveRunCities(cfg);
  const prep = prepareTarget(target, cfg.data.kDays, cfg.data.feature, cfg.data.baseline, cfg.finetune.holdout);
  const model = createForecaster(cfg.bank.model);
  // The run's generated vectors as the generator returned them (read, and checked, only when a row needs them).
  let generated: Map<number, Float32Array> | undefined;
  const generatedOf = (region: number) => {
    const regions = chooseTargetRegions(target.N, cfg.data.maxTargetRegions, cfg.seed);
    generated ??= new Map(readGenerated(new RunFolder(dir).path('generated'), regions, model.layout.size).map((v, i) => [regions[i]!, v]));
    return generated.get(region)!;
  };
  console.log(basename(dir));
  for (const row of ROWS) {
    const sums = Array.from({ length: OUT_STEPS }, () => ({ cr: 0, cc: 0, rr: 0 }));
    const acc = SCALES.map(() => new MetricsAccumulator(OUT_STEPS));
    for (const file of readdirSync(join(dir, 'eval')).sort()) {
      const saved = readEvalRegion(join(dir, 'eval', file));
      const base = saved.preds['seasonal_baseline'];
      const pred = saved.preds[row];
      if (!base || !pred) throw new Error(`${join(dir, 'eval', file)} has no ${base ? row : 'seasonal_baseline'} row`);
      const region = Number(file.match(/(\d+)/)![1]);
      const { test, dataset } = targetRegion(prep, region);
      const per = row === 'gpd_zero_shot' ? gpdRowsScale(saved.generatedRows) : 1;
      // A zero-shot row the K days scaled to 0 carries nothing: the generator's own vector is forecast again.
      const own = per > 0 ? pred : predictWindows(model, generatedOf(region), dataset.adjacency, dataset.n, test, dataset.norm);
      const c = own.map((v, i) => (v - base[i]!) / (per > 0 ? per : 1));
      for (let i = 0; i < c.length; i++) {
        if (!test.yMask[i]) continue;
        const r = test.yRaw[i]! - base[i]!;
        const s = sums[i % OUT_STEPS]!;
        s.cr += c[i]! * r;
        s.cc += c[i]! * c[i]!;
        s.rr += r * r;
      }
      SCALES.forEach((k, j) => acc[j]!.add(base.map((b, i) => b + k * c[i]!), test.yRaw, test.yMask));
    }
    const corr = sums.map((s) => (s.cr / Math.sqrt(s.cc * s.rr)).toFixed(2)).join(' ');
    const rms = Math.sqrt(sums.reduce((a, s) => a + s.cc, 0) / sums.reduce((a, s) => a + s.rr, 0));
    console.log(`  ${row.padEnd(20)} corr h1-6 ${corr}  RMS(c)/RMS(r) ${rms.toFixed(2)}`);
    console.log(`  ${''.padEnd(20)} MAE at scale ${SCALES.map((k, j) => `${k}: ${acc[j]!.result().maeMean.toFixed(3)}`).join('  ')}`);
  }
}
