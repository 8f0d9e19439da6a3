/**
 * Score finished runs again under the current defaults, each with its own saved configuration, and
 * update their records: for run folders whose experiment settings have since changed (so `npm run
 * experiments` would plan another bank for them), when a default that only changes some rows (the GPD
 * rows: sampling.outputScale, finetune.generatedStart) moved on. Nothing is trained that the folder
 * holds already; only the rows whose recipe changed are computed.
 *
 *   npm run experiments:rescore -- --out results/2026-12-05 --variant model:gwn [--targets a,b]
 *
 * Then rebuild the tables with the folder's `--aggregate` command.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RunFolder, generatedOutputScale, plannedGpdRows, runTransfer, writeJsonAtomic, ProgressRenderer } from '../src/index.js';
import { mergeRecords, readRecords, runKey, type RunRecord } from './lib/records.js';

const { values: args } = parseArgs({ options: { out: { type: 'string' }, variant: { type: 'string' }, targets: { type: 'string' } } });
if (!args.out || !args.variant) {
  console.error('usage: npm run experiments:rescore -- --out <experiments folder> --variant <variant> [--targets a,b]');
  process.exit(2);
}
const file = join(args.out, 'runs.json');
const targets = args.targets?.split(',');
const chosen = readRecords(file).filter((r) => r.variant === args.variant && (!targets || targets.includes(r.target)));
if (chosen.length === 0) console.log(`no record of variant ${args.variant}${targets ? ` for ${targets.join(', ')}` : ''} in ${file}`);
for (const r of chosen) {
  const run = new RunFolder(join(args.out, 'runs', runKey(r)));
  const saved = run.readConfig();
  const renderer = new ProgressRenderer({ plain: true, logEverySeconds: 30 });
  renderer.log(`== ${runKey(r)} (its saved configuration, current defaults for keys it lacks)`);
  const t0 = performance.now();
  const result = await runTransfer({ config: saved.config, runDir: run.dir, command: saved.command ?? undefined, onProgress: renderer.onProgress, log: (m) => renderer.log(m) });
  renderer.done();
  const scale = generatedOutputScale(saved.config.sampling, saved.config.data.baseline);
  const updated: RunRecord = {
    ...r,
    methods: result.methods,
    outputScale: scale,
    zeroShotScale: result.zeroShotScale,
    gpdRows: plannedGpdRows(saved.config, r.k),
    wallSeconds: r.wallSeconds + (performance.now() - t0) / 1000,
  };
  writeJsonAtomic(file, mergeRecords(file, [updated]));
  console.log(`${runKey(r)}: GPD ${result.methods.gpd?.mae.toFixed(3)}, zero-shot ${result.methods.gpd_zero_shot?.mae.toFixed(3)}`);
}
