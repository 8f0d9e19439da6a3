/**
 * The experiments of PROTOCOL.md in one command (docs/experiments.md):
 *
 *   npm run experiments                      # full protocol (hours on 2 cores)
 *   npm run experiments -- --quick           # reduced budget (region caps, fewer epochs/steps)
 *   npm run experiments -- --target my/city.json --sources cities/la-loop.city.json
 *                                            # an unseen city as the target
 *
 * For every target: leave-one-city-out within its family and "all other cities" as sources, each
 * seed and K the target's data allow, every method; Graph WaveNet on the --gwn-targets; then ablations
 * (conditioning strategies, no spatial / temporal prompt, DDPM vs DDIM) on the family setting, and the
 * variants that change every method on every target. Every run is a resumable `gpd transfer` run
 * folder under <out>/runs/, and banks are shared across seeds and ablations. Writes <out>/runs.json,
 * <out>/results.json, <out>/table.md and, for a folder under results/, the checked summaries
 * (results/results.json, results/results-gwn.json) and docs/results.md.
 *
 * The jobs live in experiments/lib/: settings (options, families, budgets, variants), runner (one
 * run, bank sharing), parallel (--parallel), aggregate / variant-tables / tables (numbers and
 * tables), summary / results-doc (results/*.json and docs/results.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { METHODS, writeFileAtomic, writeJsonAtomic, type Method } from '../src/index.js';
import { CityBook, dailyWindowNotes, kDoesNotFit } from './lib/cities.js';
import { runInParallel } from './lib/parallel.js';
import { mergeRecords, recordKey, type RunRecord } from './lib/records.js';
import { buildBankOf, planRun, runPlan, type PlanContext, type RunJob, type RunPlan } from './lib/runner.js';
import {
  ABLATION_METHODS,
  BUDGETS,
  FULL_VARIANTS,
  GWN_OVERRIDES,
  GWN_VARIANT,
  ROOT,
  USAGE,
  UsageError,
  VARIANTS,
  parseOptions,
  settingsOf,
  sourcesLabel,
  type ExperimentOptions,
  type Setting,
} from './lib/settings.js';
import { writeCheckedSummaries, writeResultsDoc } from './lib/summary.js';
import { folderTables } from './lib/tables.js';

function options(): ExperimentOptions {
  try {
    return parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
}

/** The commit the tables were aggregated at (the runs themselves record package versions, not commits). */
function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const opts = options();
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

async function main(o: ExperimentOptions): Promise<void> {
  const outDir = o.outDir;
  mkdirSync(outDir, { recursive: true });
  const recordFile = join(outDir, 'runs.json');
  let records: RunRecord[] = mergeRecords(recordFile, []);
  // A run counts as done when its record holds every method it scores, so rows added to METHODS
  // later are filled in by rerunning the same command (evaluation computes only the missing ones).
  // Likewise a record scored with another correction bound is rescored (its run folder keeps the
  // unbounded predictions, so no model is trained again), and one whose GPD rows were made another
  // way (sampling.outputScale, finetune.generatedStart) scores them again (the generated vectors are kept).
  const have = (j: RunJob) => {
    const plan = planRun(j, ctx);
    return records.some(
      (r) =>
        recordKey(r) === recordKey({ ...j.setting, seed: j.seed, k: j.k, variant: j.variant }) &&
        (j.methods ?? METHODS.filter((m) => m !== 'seasonal_baseline' || r.encoding !== 'none')).every((m) => r.methods[m]) &&
        (r.correctionBound ?? 0) === plan.config.data.correctionBound &&
        r.gpdRows === plan.base.gpdRows,
    );
  };
  const add = (r: RunRecord) => {
    // A finished run scored again (new rows, another bound) keeps the time it took in all.
    const before = records.find((p) => recordKey(p) === recordKey(r));
    if (before) r = { ...r, wallSeconds: before.wallSeconds + r.wallSeconds };
    records = mergeRecords(recordFile, [...records, r]);
    writeJsonAtomic(recordFile, records);
  };
  const book = new CityBook([...(o.target ? [o.target] : []), ...(o.sources ?? [])]);
  // K values the target's data do not allow are skipped with one note per (target, K); the tables list them.
  const noted = new Set<string>();
  const fits = (target: string, k: number) => {
    const city = book.city(target);
    const reason = city ? kDoesNotFit(city, k) : null;
    if (reason && !noted.has(`${target}|${k}`)) console.log(`skipped ${target} K = ${k}: ${reason}`);
    noted.add(`${target}|${k}`);
    return reason === null;
  };
  const ctx: PlanContext = { outDir, set: o.set, argv: o.argv };
  const runPhase = async (jobs: RunJob[]) => {
    const todo = jobs.filter((j) => fits(j.setting.target, j.k));
    if (o.banksOnly) {
      const seen = new Set<string>();
      for (const p of todo.filter((j) => !have(j)).map((j) => planRun(j, ctx))) {
        if (seen.has(p.bankDir)) continue;
        seen.add(p.bankDir);
        await buildBankOf(p);
      }
      return;
    }
    if (o.parallel <= 1) {
      for (const j of todo) if (!have(j)) add(await runPlan(planRun(j, ctx)));
      return;
    }
    const plans = todo.filter((j) => !have(j)).map((j) => planRun(j, ctx));
    // The first run of each bank names it; banks are built one at a time before any run starts.
    const banks = new Map<string, RunPlan>();
    for (const p of plans) if (!banks.has(p.bankDir)) banks.set(p.bankDir, p);
    for (const p of banks.values()) await buildBankOf(p);
    await runInParallel(plans, o.parallel, add);
  };
  const job = (setting: Setting, seed: number, k: number, variant: string, extra: readonly string[], methods?: readonly Method[], budget = o.budget): RunJob => ({ setting, seed, k, variant, extra, budget, ...(methods ? { methods } : {}) });
  const mainJobs = (s: Setting) => o.ks.flatMap((k) => o.seeds.map((seed) => job(s, seed, k, 'main', [])));

  // Phases in order of importance, so a budget that runs out still leaves the main table complete:
  // every target's family setting, Graph WaveNet, the ablations, the variants, then "all other cities".
  const all = o.aggregate ? [] : settingsOf(o);
  const family = all.filter((x) => x.sourceSet !== 'all');
  await runPhase(family.flatMap(mainJobs));
  await runPhase(family.filter((s) => o.gwnTargets.includes(s.target)).flatMap((s) => o.gwnSeeds.map((seed) => job(s, seed, 3, GWN_VARIANT, GWN_OVERRIDES, undefined, 'quick'))));
  if (o.ablations) {
    const targets = family.filter((s) => !o.ablationTargets || o.ablationTargets.includes(s.target));
    await runPhase(targets.flatMap((s) => o.ablationSeeds.flatMap((seed) => Object.entries(VARIANTS).map(([v, extra]) => job(s, seed, 3, v, extra, ABLATION_METHODS)))));
  }
  if (o.fullVariants) {
    const variants = Object.entries(FULL_VARIANTS).filter(([v]) => !o.onlyFullVariants || o.onlyFullVariants.includes(v));
    await runPhase(family.flatMap((s) => variants.map(([v, extra]) => job(s, o.seeds[0]!, 3, v, extra))));
  }
  await runPhase(all.filter((x) => x.sourceSet === 'all').flatMap(mainJobs));
  records = mergeRecords(recordFile, records);
  if (o.banksOnly) {
    console.log(`banks: ${join(outDir, 'banks')}`);
    return;
  }

  const targets = [...new Set([...records.map((r) => r.target), ...all.map((s) => s.target)])];
  const tables = folderTables({
    records,
    outDir,
    sourcesLabel: sourcesLabel(o),
    seeds: o.seeds,
    budget: o.budget,
    budgetOverrides: BUDGETS[o.budget],
    set: o.set,
    argv: o.argv,
    aggregateOnly: o.aggregate,
    commit: gitCommit(),
    skipped: book.skipped(targets, [...records.map((r) => r.k), ...o.ks]),
    dailyNotes: dailyWindowNotes([...targets, ...records.flatMap((r) => r.sources)], (c) => book.dailyText(c)),
  });
  writeJsonAtomic(join(outDir, 'results.json'), tables.results);
  writeFileAtomic(join(outDir, 'table.md'), tables.markdown);
  // The checked summaries and docs/results.md come only from a folder under results/ (a scratch --out
  // elsewhere must not overwrite them); the summaries also not from an unseen --target or --no-summary.
  if (outDir.startsWith(join(ROOT, 'results') + '/')) {
    if (!o.target && o.summary) writeCheckedSummaries(tables.main, tables.gwn);
    console.log(`results overview: ${writeResultsDoc(book)}`);
  }
  console.log(`results: ${join(outDir, 'table.md')}`);
}

await main(opts);
