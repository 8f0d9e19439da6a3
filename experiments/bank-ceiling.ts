/**
 * How much can any source vector do zero-shot on a new city? A ceiling for the generator, measured on
 * data before every test period (PROTOCOL.md):
 *
 *   npm run experiments:bank-ceiling -- [--cities a,b] [--regions 24] [--k 3] [--runs <folder>]
 *
 * Each city is cut to the part before its test period and treated as a few-shot target of its own
 * (experiments/lib/pseudo-target.ts), with the bank its family run took its sources from (the other
 * city of its family; read from <runs>/<city>__family__k3__s1__main). On a seeded sample of regions,
 * every vector of that bank is run zero-shot on the pseudo-test (correction bound x1, the default), beside
 * random init (the seasonal baseline's forecast, near enough) and the bank mean. Printed per city:
 * the mean MAE of random init, the bank mean, the bank vector each region would pick on its K few-shot
 * days (a legitimate selection), and the best bank vector per region picked on the pseudo-test itself
 * (an oracle: a ceiling, not a method), and how many region-vector pairs beat random init. A generator
 * that reproduced the right bank vector for every region could do no better than the oracle row; the
 * K-day row is what choosing among them with a target's own days can do.
 *
 * `--bank own` runs the city's OWN bank instead (the one its family partner's run used): a diagnostic
 * that separates "another city" from "the K-day regime". It leaks (that bank trained on the city's
 * first 80%, which holds the pseudo-test), so it flatters the own vectors; the output says so.
 */
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCity, initBackend, createForecaster, FinetuneConfig } from '../src/index.js';
import { prepareTarget, targetRegion } from '../src/train/target.js';
import { PSEUDO_TARGET_OPTIONS, commandLine, beforeTest, familyRunBank, pseudoTargetRegions, regionScorer } from './lib/pseudo-target.js';
import { FAMILIES, ROOT, cityManifest, familyOf } from './lib/settings.js';
import { meanVector } from '../src/transfer/inits.js';
import { regionRng } from '../src/transfer/region-eval.js';

const { values: args } = parseArgs({ options: { ...PSEUDO_TARGET_OPTIONS, bank: { type: 'string', default: 'family' } } });
if (args.bank !== 'family' && args.bank !== 'own') throw new Error(`--bank expects family or own, got "${args.bank}"`);
/** Whose run's bank to read: the city's own run (its family sources) or its partner's (the city itself). */
const bankRun = (city: string) => (args.bank === 'own' ? FAMILIES[familyOf(city)!]!.find((c) => c !== city)! : city);

await initBackend();
const model = createForecaster('stgcn');
const cfg = FinetuneConfig.parse({});
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const gains: { city: string; oracle: number; picked: number; bankMean: number }[] = [];
console.log(`${commandLine('experiments:bank-ceiling')}   # STGCN, ${args.regions} pseudo-target regions per city, K = ${args.k}, correction bound x1; vectors from the ${args.bank === 'own' ? "cities' OWN banks (leaky diagnostic: each trained on its city's first 80%, which holds the pseudo-test)" : 'family banks'} of ${relative(ROOT, args.runs!)}\n`);
for (const name of args.cities!.split(',')) {
  const bank = familyRunBank(args.runs!, bankRun(name));
  if (!bank) {
    console.log(`${name}: no family bank found under ${args.runs} (skipped)`);
    continue;
  }
  const city = beforeTest(loadCity(cityManifest(name)));
  const prep = prepareTarget(city, Number(args.k), 0, 'seasonal-ar', cfg.holdout);
  const regions = pseudoTargetRegions(city, Number(args.regions));
  const bankMean = meanVector(bank.vectors);
  const rows = { random: [] as number[], bankMean: [] as number[], picked: [] as number[], oracle: [] as number[] };
  let beating = 0;
  let regionsWithOne = 0;
  for (const region of regions) {
    const score = regionScorer(model, targetRegion(prep, region));
    const random = score.test(model.layout.init(regionRng(1, city.id, region).fork('random-init')));
    const test = bank.vectors.map(score.test);
    const onK = bank.vectors.map(score.fewShot);
    const pick = onK.indexOf(Math.min(...onK));
    rows.random.push(random);
    rows.bankMean.push(score.test(bankMean));
    rows.picked.push(test[pick]!);
    rows.oracle.push(Math.min(...test));
    const better = test.filter((m) => m < random).length;
    beating += better;
    if (better > 0) regionsWithOne++;
  }
  const r = mean(rows.random);
  const line = (label: string, xs: number[], note = '') => console.log(`  ${label.padEnd(34)} ${mean(xs).toFixed(3)} (${((mean(xs) / r - 1) * 100).toFixed(1)}% vs random init)${note}`);
  console.log(`${name} (bank of ${bank.index.cities.map((c) => c.id).join('+')}, ${bank.vectors.length} vectors; ${regions.length} regions)`);
  console.log(`  ${'random init'.padEnd(34)} ${r.toFixed(3)}`);
  line('bank mean zero-shot', rows.bankMean);
  line('bank vector picked on the K days', rows.picked);
  line('best bank vector (oracle)', rows.oracle, ' <- picked on the pseudo-test: a ceiling');
  console.log(`  region-vector pairs beating random init: ${beating}/${regions.length * bank.vectors.length}; regions where some vector does: ${regionsWithOne}/${regions.length}`);
  gains.push({ city: name, oracle: mean(rows.oracle) / r - 1, picked: mean(rows.picked) / r - 1, bankMean: mean(rows.bankMean) / r - 1 });
}
if (gains.length > 0) {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log(`\nmean change against random init over ${gains.length} cities: bank mean ${pct(mean(gains.map((g) => g.bankMean)))}, picked on the K days ${pct(mean(gains.map((g) => g.picked)))}, oracle ${pct(mean(gains.map((g) => g.oracle)))}`);
}
