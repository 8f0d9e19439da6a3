/**
 * The no-training forecasts on every shared city (npm run experiments:baselines; seconds):
 * test-period MAE of the historical average, last value, and the seasonal baselines the models
 * correct (data/baseline.ts: the profile pooled over several window widths, with and without the
 * damped persistence term), over ALL regions of each target, K few-shot days (default 3).
 *
 *   npm run experiments:baselines -- --k 3
 *
 * These are the measurements behind the default value encoding (docs/protocol-impl.md).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  fitTimeProfile,
  fitValueEncoding,
  historicalAveragePredict,
  lastValuePredict,
  loadCity,
  prepareTarget,
  profileAt,
  regionSubgraph,
  regionWindows,
  IN_STEPS,
  MetricsAccumulator,
  OUT_STEPS,
} from '../src/index.js';

const root = resolve(new URL('..', import.meta.url).pathname);
const { values: args } = parseArgs({ options: { k: { type: 'string', default: '3' }, cities: { type: 'string', default: 'la-loop,shenzhen-sztaxi40,nyc-bike-grid,montevideo-bus,didi-chengdu,didi-xian,metro-shanghai,metro-chongqing' } } });
const K = Number(args.k);

for (const name of args.cities!.split(',')) {
  const city = loadCity(join(root, 'cities', `${name}.city.json`));
  let prep: ReturnType<typeof prepareTarget>;
  try {
    prep = prepareTarget(city, K, 0, 'none', 'tail');
  } catch (err) {
    console.log(`\n${name}: K = ${K} does not fit (${(err as Error).message})`);
    continue;
  }
  const { fewShot, test } = prep.split;
  const ar = fitValueEncoding(city, fewShot, 0, 'seasonal-ar');
  const seasonal = fitValueEncoding(city, fewShot, 0, 'seasonal');
  const acc = new Map<string, MetricsAccumulator>();
  const add = (k: string, p: Float32Array, w: { yRaw: Float32Array; yMask: Uint8Array }) => {
    if (!acc.has(k)) acc.set(k, new MetricsAccumulator(OUT_STEPS));
    acc.get(k)!.add(p, w.yRaw, w.yMask);
  };
  // Pooling widths in minutes either side (0 = the historical average's unpooled profile).
  const widths = [0, 15, 30, 60, 90, 120].filter((m) => m === 0 || m >= city.intervalMinutes);
  const profiles = widths.map((m) => ({ m, p: fitTimeProfile(city, fewShot, 0, Math.floor(m / city.intervalMinutes)) }));
  for (let r = 0; r < city.N; r++) {
    const sub = regionSubgraph(city, r);
    const w = regionWindows(city, sub, test, prep.norm, { historyStart: test.start - IN_STEPS });
    const ha = historicalAveragePredict(prep.ha, city, r, w);
    add('historical average', ha, w);
    add('last value', lastValuePredict(city, r, 0, w, ha), w);
    for (const { m, p } of profiles) {
      const out = new Float32Array(w.count * OUT_STEPS);
      for (let k = 0; k < w.count; k++) for (let h = 0; h < OUT_STEPS; h++) out[k * OUT_STEPS + h] = profileAt(p, city, w.starts[k]! + IN_STEPS + h, r);
      add(`profile +-${m} min`, out, w);
    }
    add('seasonal (default pooling)', regionWindows(city, sub, test, seasonal, { historyStart: test.start - IN_STEPS }).yOffset, w);
    add('seasonal-ar', regionWindows(city, sub, test, ar, { historyStart: test.start - IN_STEPS }).yOffset, w);
  }
  console.log(`\n${name}: K = ${K}, ${city.N} regions, test steps [${test.start}, ${test.end}); persistence lambda_1..6 = ${ar.baseline!.persistence.map((l) => l.toFixed(2)).join(' ')}`);
  for (const [k, a] of acc) {
    const m = a.result();
    console.log(`  ${k.padEnd(28)} MAE ${m.maeMean.toFixed(3)}  RMSE ${m.rmseMean.toFixed(3)}  by horizon ${m.mae.map((v) => v.toFixed(2)).join(' ')}`);
  }
}
