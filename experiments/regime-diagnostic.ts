/**
 * Does a source model trained under the target's regime transfer better zero-shot? (npm run
 * experiments:regime, ~1-2 minutes a pair on 2 cores.)
 *
 * For each source -> target pair: one shared STGCN trained on 12 source regions with the source
 * encoding fitted on the whole training part (as the bank did before bank.encodingFitDays), and one
 * with it fitted on sliding K-day blocks, each forecasting the next day (data/fit-blocks.ts); both
 * from the same init, same epochs. Each is then run WITHOUT training on 24 regions of the target
 * (encoding fitted on the target's K few-shot days), and scored on the target's test period against
 * the seasonal baseline alone (the network's zero correction) and the untrained init. Also each
 * network with its output halved (a correction of the right sign but half the size).
 *
 *   npm run experiments:regime                                  # the four family pairs
 *   npm run experiments:regime -- --pairs shenzhen-sztaxi40:la-loop --epochs 6
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCity } from '../src/data/load.js';
import { MetricsAccumulator } from '../src/metrics/metrics.js';
import { Rng } from '../src/util/prng.js';
import { initBackend } from '../src/runtime/backend.js';
import { OUT_STEPS } from '../src/data/task.js';
import { prepareTarget, targetRegion } from '../src/train/target.js';
import { createForecaster } from '../src/models/registry.js';
import { fitForecaster } from '../src/train/fit.js';
import { prepareCity, regionDatasets, type CityPrep, type RegionDataset } from '../src/train/dataset.js';
import { predictWindows } from '../src/train/predict.js';

const root = resolve(new URL('..', import.meta.url).pathname);
const { values: args } = parseArgs({
  options: {
    pairs: { type: 'string', default: 'shenzhen-sztaxi40:la-loop,la-loop:shenzhen-sztaxi40,montevideo-bus:nyc-bike-grid,nyc-bike-grid:montevideo-bus' },
    k: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '6' },
    'source-regions': { type: 'string', default: '12' },
    'target-regions': { type: 'string', default: '24' },
  },
});
const K = Number(args.k);
const epochs = Number(args.epochs);
await initBackend();
const model = createForecaster('stgcn');
const load = (name: string) => loadCity(join(root, 'cities', `${name}.city.json`));
const spread = (n: number, N: number) => Array.from({ length: Math.min(n, N) }, (_, i) => Math.floor((i * N) / Math.min(n, N)));

for (const pair of args.pairs!.split(',')) {
  const [srcName, tgtName] = pair.split(':');
  if (!srcName || !tgtName) throw new Error(`--pairs: "${pair}" is not source:target`);
  const src = load(srcName);
  const tgt = load(tgtName);
  const regions = spread(Number(args['source-regions']), src.N);
  const datasets = (prep: CityPrep): RegionDataset[] => regions.flatMap((r) => regionDatasets(src, prep, r));
  const cfg = { epochs, batchSize: 64, lr: 3e-3, weightDecay: 0, patience: 10, lossSpace: 'normalized' as const };
  const init = model.layout.init(new Rng(7).fork('init'));
  const whole = await fitForecaster(model, datasets(prepareCity(src, 0, 'seasonal-ar')), init, cfg, new Rng(1));
  const blocks = await fitForecaster(model, datasets(prepareCity(src, 0, 'seasonal-ar', K)), init, cfg, new Rng(1));
  const half = (p: Float32Array) => {
    const o = p.slice();
    model.layout.view(o, model.outputLayer).forEach((v, i, a) => (a[i] = v * 0.5));
    return o;
  };
  const candidates: [string, Float32Array | null][] = [
    ['seasonal baseline alone', null],
    ['untrained init', init],
    ['whole-part fit', whole.params],
    ['K-day blocks', blocks.params],
    ['whole-part fit, halved', half(whole.params)],
    ['K-day blocks, halved', half(blocks.params)],
  ];
  const prep = prepareTarget(tgt, K, 0, 'seasonal-ar', 'tail');
  const accs = candidates.map(() => new MetricsAccumulator(OUT_STEPS));
  for (const r of spread(Number(args['target-regions']), tgt.N)) {
    const { dataset, test } = targetRegion(prep, r);
    candidates.forEach(([, p], i) => accs[i]!.add(p ? predictWindows(model, p, dataset.adjacency, dataset.n, test, prep.norm) : test.yOffset, test.yRaw, test.yMask));
  }
  console.log(`\n${src.id} -> ${tgt.id}, K = ${K}: zero-shot test MAE (best epochs ${whole.bestEpoch} / ${blocks.bestEpoch} of ${epochs})`);
  candidates.forEach(([label], i) => console.log(`  ${label.padEnd(26)} ${accs[i]!.result().maeMean.toFixed(3)}`));
}
