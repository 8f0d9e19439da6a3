/**
 * The experiments of PROTOCOL.md in one command:
 *
 *   npm run experiments                      # full protocol (hours on 2 cores)
 *   npm run experiments -- --quick           # reduced budget (region caps, fewer epochs/steps)
 *   npm run experiments -- --target my/city.json --sources cities/la-loop.city.json
 *                                            # an unseen city as the target
 *
 * For every target: leave-one-city-out within its family and "all other cities" as sources,
 * each seed and K, every method; then ablations (conditioning strategies, no spatial / temporal
 * prompt, DDPM vs DDIM) on the family setting, and the value encodings (data.baseline none / seasonal
 * against the default seasonal-ar, all methods) on every target. Every run is a resumable `gpd transfer` run folder
 * under <out>/runs/, and banks are shared across seeds and ablations. Writes <out>/results.json,
 * <out>/table.md and, for the main setting, results/results.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import type { GpdConfig } from '../src/config/schema.js';
import { runTransfer, type TransferResult } from '../src/transfer/pipeline.js';
import { METHODS, METHOD_LABELS, type Method } from '../src/transfer/evaluate.js';
import { writeFileAtomic, writeJsonAtomic } from '../src/util/atomic.js';
import { ProgressRenderer } from '../src/cli/progress.js';
import { hash32 } from '../src/util/prng.js';
import { summaryReplacementBlocked, type CheckedSummary } from './checked-summary.js';

const root = resolve(new URL('..', import.meta.url).pathname);
const CITY = (name: string) => join(root, 'cities', `${name}.city.json`);
const FAMILIES: Record<string, string[]> = {
  speed: ['la-loop', 'shenzhen-sztaxi40'],
  flow: ['nyc-bike-grid', 'montevideo-bus'],
};
const ALL = Object.values(FAMILIES).flat();

const USAGE = `npm run experiments -- [options]

  --quick                 reduced budget (region caps, fewer epochs and diffusion steps)
  --targets a,b           shared cities to run as targets (default: all four)
  --target <manifest>     an unseen city as the target (--sources: comma-separated manifests, default all four)
  --seeds 1,2,3           seeds (default 1,2,3);  --k 3[,1,7]  few-shot days (default 3)
  --out <dir>             output folder (default results/<today>); results/results.json only when under results/
  --no-ablations          skip the GPD ablations;  --ablation-targets a,b  run them only on these targets
  --ablation-seeds 1,2    seeds of the ablations (default: the first of --seeds)
  --no-all-sources        skip "all other cities as sources"
  --no-full-variants      skip the variants scoring every method;  --full-variants v1,v2  only these
  --aggregate             only rebuild the tables from <out>/runs.json
  --no-summary            never write results/results.json (e.g. a one-seed run beside the 3-seed summary)
  --set key=value         extra configuration override for every run (repeatable)`;

function parseCli() {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h', default: false },
  quick: { type: 'boolean', default: false },
  targets: { type: 'string' },
  target: { type: 'string' },
  sources: { type: 'string' },
  seeds: { type: 'string', default: '1,2,3' },
  k: { type: 'string', default: '3' },
  out: { type: 'string' },
  'no-ablations': { type: 'boolean', default: false },
  'no-all-sources': { type: 'boolean', default: false },
  /** Skip the variants that score every method (encodings, shrinking; FULL_VARIANTS). */
  'no-full-variants': { type: 'boolean', default: false },
  /** Run only these of FULL_VARIANTS (comma-separated). */
  'full-variants': { type: 'string' },
  /** Targets that get the ablations (default: every target run). */
  'ablation-targets': { type: 'string' },
  /** Seeds the ablations run at (default: the first of --seeds, as they score only the GPD rows and cost a diffusion training each). */
  'ablation-seeds': { type: 'string' },
  /** Only aggregate the runs recorded so far (e.g. after several processes ran disjoint targets). */
  aggregate: { type: 'boolean', default: false },
  /** Leave results/results.json alone even for a run into results/ (a different budget or fewer seeds). */
  'no-summary': { type: 'boolean', default: false },
  set: { type: 'string', multiple: true, default: [] as string[] },
} as const;
const { values: args } = parseCli();
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const date = new Date().toISOString().slice(0, 10);
/** How the tables name the non-"all" source set: a family, or the --sources of an unseen --target. */
const SOURCES_LABEL = args.target ? 'the given sources' : 'family sources';
const outDir = resolve(args.out ?? join(root, 'results', date));
const seeds = args.seeds!.split(',').map(Number);
const ks = args.k!.split(',').map(Number);
const ablationSeeds = args['ablation-seeds'] ? args['ablation-seeds'].split(',').map(Number) : [seeds[0]!];

/** Budget: the full protocol, or a reduced one that fits an afternoon on 2 cores. */
const BUDGET = args.quick
  ? ['bank.maxRegions=40', 'data.maxTargetRegions=24', 'bank.epochs=15', 'bank.sharedEpochs=8', 'diffusion.steps=600', 'finetune.epochs=15']
  : ['data.maxTargetRegions=64'];

interface Setting {
  target: string;
  targetRef: string;
  sourceSet: string;
  sources: string[];
}

function settings(): Setting[] {
  if (args.target) {
    const sources = (args.sources ?? ALL.map(CITY).join(',')).split(',');
    return [{ target: basename(args.target).replace(/(\.city)?\.json$/, ''), targetRef: args.target, sourceSet: 'given', sources }];
  }
  const targets = args.targets ? args.targets.split(',') : ALL;
  const out: Setting[] = [];
  for (const t of targets) {
    const fam = Object.values(FAMILIES).find((f) => f.includes(t));
    if (!fam) throw new Error(`unknown target ${t}; known: ${ALL.join(', ')} (or pass --target <manifest>)`);
    out.push({ target: t, targetRef: CITY(t), sourceSet: 'family', sources: fam.filter((c) => c !== t).map(CITY) });
    if (!args['no-all-sources']) out.push({ target: t, targetRef: CITY(t), sourceSet: 'all', sources: ALL.filter((c) => c !== t).map(CITY) });
  }
  return out;
}

interface RunRecord {
  target: string;
  sourceSet: string;
  sources: string[];
  seed: number;
  k: number;
  variant: string;
  methods: TransferResult['methods'];
  regions: number;
  wallSeconds: number;
  /** The run's value encoding and shrinking, so the record describes itself once its run folder is gone. */
  encoding?: GpdConfig['data']['baseline'];
  shrink?: boolean;
  /** finetune.prescale of the run (absent in records written before the option existed, when it was off). */
  prescale?: boolean;
  /** bank.encodingFitDays of the run (absent: the encoding was fitted on the sources' whole training part). */
  encodingFitDays?: number;
}

/** Ablations of the main setting (pre-bias conditioning, both prompts, DDIM-50), whose seed-1 run is the reference row. */
const VARIANTS: Record<string, string[]> = {
  'cond:pre': ['diffusion.conditioning=pre'],
  'cond:pre-adaptive': ['diffusion.conditioning=pre-adaptive'],
  'cond:post-adaptive': ['diffusion.conditioning=post-adaptive'],
  'cond:adaln': ['diffusion.conditioning=adaln'],
  'no-spatial': ['prompts.spatial=false'],
  'no-temporal': ['prompts.temporal=none'],
  'sampler:ddpm': ['sampling.sampler=ddpm'],
};

/**
 * Variants that change every model-based method, so they score all methods, on every target: the
 * value encoding every forecaster sees (data/baseline.ts; the main runs use the default seasonal-ar)
 * the shrinking of fine-tuned corrections and the prescaling of their inits (transfer/shrink.ts),
 * and source models trained under the target's regime (encoding fitted on sliding 3-day blocks = K,
 * data/fit-blocks.ts; variants run at K = 3).
 */
const FULL_VARIANTS: Record<string, string[]> = {
  'baseline:none': ['data.baseline=none'],
  'baseline:seasonal': ['data.baseline=seasonal'],
  'finetune:no-shrink': ['finetune.shrink=false'],
  'finetune:no-prescale': ['finetune.prescale=false'],
  'bank:fit-3-days': ['bank.encodingFitDays=3'],
};
/** Variant names older result folders hold (shrinking was off by default before 2026-12-02). */
const FORMER_FULL_VARIANTS = ['finetune:shrink'];
const isFullVariant = (v: string) => v in FULL_VARIANTS || FORMER_FULL_VARIANTS.includes(v);

function runKey(r: Pick<RunRecord, 'target' | 'sourceSet' | 'seed' | 'k' | 'variant'>): string {
  return `${r.target}__${r.sourceSet}__k${r.k}__s${r.seed}__${r.variant.replace(/[:]/g, '-')}`;
}

/** "seasonal-ar, shrink on": from the record, or for records written before it carried them, from the run folder's config.json. */
function describeRun(r: RunRecord): string {
  const fit = r.encodingFitDays !== undefined ? `, sources fitted on ${r.encodingFitDays}-day blocks` : '';
  const pre = r.prescale !== undefined ? `, prescale ${r.prescale ? 'on' : 'off'}` : '';
  if (r.encoding !== undefined && r.shrink !== undefined) return `${r.encoding}, shrink ${r.shrink ? 'on' : 'off'}${pre}${fit}`;
  const file = join(outDir, 'runs', runKey(r), 'config.json');
  if (!existsSync(file)) return r.variant;
  const c = (JSON.parse(readFileSync(file, 'utf8')) as { config: { data: { baseline?: string }; finetune: { shrink?: boolean } } }).config;
  return `${c.data.baseline ?? 'none'}, shrink ${c.finetune.shrink ? 'on' : 'off'}`;
}

async function runOne(s: Setting, seed: number, k: number, variant: string, extra: string[], methods?: readonly Method[]): Promise<RunRecord> {
  const key = runKey({ ...s, seed, k, variant });
  const runDir = join(outDir, 'runs', key);
  const overrides = [
    ...BUDGET,
    `data.sources=${JSON.stringify(s.sources)}`,
    `data.target=${s.targetRef}`,
    `data.kDays=${k}`,
    `seed=${seed}`,
    'bank.seed=1',
    ...extra,
    ...args.set!,
  ];
  // One bank per source set and everything a bank depends on (its settings, the value encoding and
  // channel): variants that change the bank (e.g. data.baseline) get their own.
  const resolved = loadConfig(undefined, overrides);
  const bankOf = { sources: s.sources, bank: resolved.bank, baseline: resolved.data.baseline, feature: resolved.data.feature };
  const bankKey = `${s.sourceSet}-${resolved.data.baseline}-${(hash32(JSON.stringify(bankOf)) >>> 0).toString(16)}`;
  const config = loadConfig(undefined, [...overrides, `bank.dir=${join(outDir, 'banks', bankKey)}`]);
  const done = join(runDir, 'results.json');
  const renderer = new ProgressRenderer({ plain: true, logEverySeconds: 30 });
  renderer.log(`== ${key}`);
  const t0 = performance.now();
  const result = await runTransfer({
    config,
    runDir,
    command: `npm run experiments -- ${process.argv.slice(2).join(' ')}`,
    ...(methods ? { methods } : {}),
    onProgress: renderer.onProgress,
    log: (m) => renderer.log(m),
  });
  renderer.done();
  if (!existsSync(done)) throw new Error(`${key}: no results.json after the run`);
  return { target: s.target, sourceSet: s.sourceSet, sources: s.sources.map((p) => basename(p).replace('.city.json', '')), seed, k, variant, methods: result.methods, regions: result.regions.length, wallSeconds: (performance.now() - t0) / 1000, encoding: config.data.baseline, shrink: config.finetune.shrink, prescale: config.finetune.prescale, ...(config.bank.encodingFitDays !== undefined ? { encodingFitDays: config.bank.encodingFitDays } : {}) };
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

type Agg = Partial<Record<Method, { mae: number; rmse: number; mae_std: number; rmse_std: number; maeByHorizon: number[]; seeds: number }>>;

function aggregate(records: RunRecord[]): Agg {
  const out: Agg = {};
  for (const m of METHODS) {
    const rs = records.filter((r) => r.methods[m]);
    if (rs.length === 0) continue;
    const mae = meanStd(rs.map((r) => r.methods[m]!.mae));
    const rmse = meanStd(rs.map((r) => r.methods[m]!.rmse));
    const byH = rs[0]!.methods[m]!.maeByHorizon.map((_, h) => meanStd(rs.map((r) => r.methods[m]!.maeByHorizon[h]!)).mean);
    out[m] = { mae: mae.mean, rmse: rmse.mean, mae_std: mae.std, rmse_std: rmse.std, maeByHorizon: byH, seeds: rs.length };
  }
  return out;
}

function table(title: string, agg: Agg): string {
  const lines = [`### ${title}`, '', '| method | MAE@1 | MAE@2 | MAE@3 | MAE@4 | MAE@5 | MAE@6 | MAE (mean ± std) | RMSE (mean ± std) |', '|---|---|---|---|---|---|---|---|---|'];
  for (const m of METHODS) {
    const a = agg[m];
    if (!a) continue;
    lines.push(`| ${METHOD_LABELS[m]} | ${a.maeByHorizon.map((v) => v.toFixed(3)).join(' | ')} | ${a.mae.toFixed(3)} ± ${a.mae_std.toFixed(3)} | ${a.rmse.toFixed(3)} ± ${a.rmse_std.toFixed(3)} |`);
  }
  return lines.join('\n');
}

function recordKey(r: Pick<RunRecord, 'target' | 'sourceSet' | 'seed' | 'k' | 'variant'>): string {
  return `${r.target}|${r.sourceSet}|k${r.k}|s${r.seed}|${r.variant}`;
}

/**
 * Records on disk merged with ours: several experiment processes may share one output folder (e.g. one
 * per city family on a 2-core machine), so each save re-reads the file and keeps the others' records.
 */
function mergeRecords(file: string, ours: RunRecord[]): RunRecord[] {
  const byKey = new Map<string, RunRecord>();
  if (existsSync(file)) for (const r of JSON.parse(readFileSync(file, 'utf8')) as RunRecord[]) byKey.set(recordKey(r), r);
  for (const r of ours) byKey.set(recordKey(r), r);
  return [...byKey.values()];
}

/** The commit the tables were aggregated at (the runs themselves record package versions, not commits). */
function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const fmt = (a: { mae: number; mae_std: number } | undefined) => (a ? `${a.mae.toFixed(3)} ± ${a.mae_std.toFixed(3)}` : '–');

/** One row per target (family sources, K = 3): MAE mean ± std over seeds of every method. */
function summary(main: Record<string, Agg>): string[] {
  const targets = Object.keys(main);
  if (targets.length === 0) return [];
  const lines = [`## Summary: MAE (mean ± std over seeds), ${SOURCES_LABEL}, K = 3`, '', `| method | ${targets.join(' | ')} |`, `|---|${targets.map(() => '---').join('|')}|`];
  for (const m of METHODS) lines.push(`| ${METHOD_LABELS[m]} | ${targets.map((t) => fmt(main[t]![m])).join(' | ')} |`);
  return [...lines, ''];
}

/** A method's label without its parenthesis: "GPD zero-shot", "Target-only". */
const shortLabel = (m: Method) => METHOD_LABELS[m].split(' (')[0]!;

/** Where GPD does and does not win, stated per target from the numbers above (no hand-written claims). */
function verdicts(main: Record<string, Agg>, records: RunRecord[]): string[] {
  const lines = [`## Where GPD wins and where it does not (mean MAE, ${SOURCES_LABEL}, K = 3; in how many seeds)`, ''];
  for (const [t, agg] of Object.entries(main)) {
    // Paired by seed: within one seed every method is scored on the same regions and windows.
    const runs = records.filter((r) => r.target === t && r.variant === 'main' && r.k === 3 && r.sourceSet !== 'all');
    const vs = (a: Method, b: Method, name: string) => {
      const x = agg[a]?.mae;
      const y = agg[b]?.mae;
      if (x === undefined || y === undefined) return `${name}: n/a`;
      const wins = runs.filter((r) => r.methods[a] && r.methods[b] && r.methods[a]!.mae < r.methods[b]!.mae).length;
      return `${x < y ? 'beats' : 'does NOT beat'} ${name} (${x.toFixed(3)} vs ${y.toFixed(3)}, lower in ${wins}/${runs.length} seeds)`;
    };
    const label = (m: Method) => shortLabel(m).toLowerCase();
    const parts = (['ha', 'last', 'seasonal_baseline', 'target_only', 'source_transfer', 'bank_mean', 'nearest_prompt'] as const).map((m) => vs('gpd', m, label(m)));
    lines.push(`- **${t}**: fine-tuned GPD ${parts.join('; ')}. Zero-shot GPD ${vs('gpd_zero_shot', 'random_init', 'random init')}; ${vs('gpd_zero_shot', 'bank_mean_zero_shot', 'the untrained bank mean')}; ${vs('gpd_zero_shot', 'seasonal_baseline', 'the seasonal baseline alone')}. Calibrated by one scale on the K days, generated ${vs('gpd_calibrated', 'random_init_calibrated', 'random init calibrated the same way')}; ${vs('gpd_calibrated', 'random_init', 'random init')}.`);
  }
  return [...lines, ''];
}

/** The methods the across-settings table shows: the bar's comparisons and GPD's own rows. */
const SETTING_METHODS: readonly Method[] = ['ha', 'seasonal_baseline', 'target_only', 'source_transfer', 'bank_mean', 'nearest_prompt', 'gpd_zero_shot', 'gpd', 'random_init', 'gpd_calibrated', 'random_init_calibrated'];
/**
 * The comparisons the issue's bars make, one verdict column each. Columns rather than bold cells: bold
 * on two pairs in one row read as a comparison between the two bold cells (a bold fine-tuned GPD beside
 * a bold random init).
 */
const SETTING_VERDICTS: readonly { label: string; method: Method; rival: Method }[] = [
  { label: 'GPD < target-only', method: 'gpd', rival: 'target_only' },
  { label: 'GPD < HA', method: 'gpd', rival: 'ha' },
  { label: 'zero-shot < random init', method: 'gpd_zero_shot', rival: 'random_init' },
];

/**
 * Main-variant runs of every source set and K side by side, one row per (target, source set, K):
 * whether the picture of the K = 3 family table holds with more sources or fewer or more days. Each
 * row is a mean over the seeds that setting was run at (its seeds column); the family K = 3 row is
 * repeated over the seeds of its target's other settings, so every row has one on the same seeds.
 */
function acrossSettings(records: RunRecord[]): string[] {
  const mains = records.filter((r) => r.variant === 'main');
  const bySetting = new Map<string, RunRecord[]>();
  for (const r of mains) {
    const key = `${r.target}|${r.sourceSet}|${r.k}`;
    bySetting.set(key, [...(bySetting.get(key) ?? []), r]);
  }
  // Only worth a table when some target has more than its K = 3 family setting.
  if (bySetting.size <= new Set(mains.map((r) => r.target)).size) return [];
  const settingsInOrder = [...bySetting.values()].sort(
    (a, b) => a[0]!.target.localeCompare(b[0]!.target) || Number(a[0]!.sourceSet === 'all') - Number(b[0]!.sourceSet === 'all') || a[0]!.k - b[0]!.k,
  );
  const rows: RunRecord[][] = [];
  for (const rs of settingsInOrder) {
    rows.push(rs);
    const { target, sourceSet, k } = rs[0]!;
    if (sourceSet === 'all' || k !== 3) continue;
    const otherSeeds = new Set(mains.filter((r) => r.target === target && (r.sourceSet === 'all' || r.k !== 3)).map((r) => r.seed));
    const paired = rs.filter((r) => otherSeeds.has(r.seed));
    if (paired.length > 0 && paired.length < rs.length) rows.push(paired);
  }
  const lines = [
    '## Across settings: MAE per target, source set and K (main variant, mean over the seeds run)',
    '',
    "The last columns are the issue's bars on the row's mean MAE (yes = lower).",
    '',
    `| target | sources | K | seeds | ${SETTING_METHODS.map(shortLabel).join(' | ')} | ${SETTING_VERDICTS.map((v) => v.label).join(' | ')} |`,
    `|---|---|---|---|${[...SETTING_METHODS, ...SETTING_VERDICTS].map(() => '---').join('|')}|`,
  ];
  for (const rs of rows) {
    const { target, sourceSet, k, sources } = rs[0]!;
    const agg = aggregate(rs);
    const cell = (m: Method) => agg[m]?.mae.toFixed(3) ?? '–';
    const verdict = ({ method, rival }: (typeof SETTING_VERDICTS)[number]) => {
      const a = agg[method], b = agg[rival];
      return a && b ? (a.mae < b.mae ? 'yes' : 'no') : '–';
    };
    const seedsRun = rs.map((r) => r.seed).sort((a, b) => a - b).join(',');
    lines.push(
      `| ${target} | ${sourceSet === 'all' ? 'all others' : sourceSet} (${sources.join(', ')}) | ${k} | ${seedsRun} | ${SETTING_METHODS.map(cell).join(' | ')} | ${SETTING_VERDICTS.map(verdict).join(' | ')} |`,
    );
  }
  return [...lines, ''];
}

/**
 * Variants scoring every method that were run at more than one seed: mean ± std over those seeds
 * beside the main runs of the same seeds, and how often fine-tuned GPD beat target-only and HA.
 */
function variantsOverSeeds(records: RunRecord[]): string[] {
  const family = records.filter((r) => r.sourceSet !== 'all' && r.k === 3);
  const lines: string[] = [];
  for (const v of Object.keys(FULL_VARIANTS)) {
    for (const t of [...new Set(family.filter((r) => r.variant === v).map((r) => r.target))]) {
      const runsOf = (variant: string) => family.filter((r) => r.target === t && r.variant === variant);
      const mainSeeds = new Set(runsOf('main').map((r) => r.seed));
      const ours = runsOf(v).filter((r) => mainSeeds.has(r.seed)).sort((a, b) => a.seed - b.seed);
      if (ours.length < 2) continue;
      const seeds = ours.map((r) => r.seed);
      const [mainAgg, varAgg] = [aggregate(runsOf('main').filter((r) => seeds.includes(r.seed))), aggregate(ours)];
      // Paired by seed, as in verdicts().
      const wins = (a: Method, b: Method) => ours.filter((r) => r.methods[a] && r.methods[b] && r.methods[a]!.mae < r.methods[b]!.mae).length;
      if (lines.length === 0) lines.push(`## Variants over several seeds (${SOURCES_LABEL}, K = 3): MAE mean ± std`, '');
      lines.push(`### ${t}, ${v} (seeds ${seeds.join(', ')})`, '', `| method | main | ${v} |`, '|---|---|---|');
      for (const m of METHODS) if (mainAgg[m] || varAgg[m]) lines.push(`| ${METHOD_LABELS[m]} | ${fmt(mainAgg[m])} | ${fmt(varAgg[m])} |`);
      lines.push('', `With ${v}, fine-tuned GPD beats target-only in ${wins('gpd', 'target_only')}/${seeds.length} seeds and historical average in ${wins('gpd', 'ha')}/${seeds.length}; zero-shot GPD beats random init in ${wins('gpd_zero_shot', 'random_init')}/${seeds.length}.`, '');
    }
  }
  return lines;
}

/**
 * Ablations (family sources, K = 3): GPD zero-shot / calibrated / fine-tuned MAE per variant and target,
 * each a mean over the seeds at which that target has the variant AND a main run (so every row of a
 * column averages the same seeds when all are complete; a cell over fewer seeds says how many).
 */
function ablations(records: RunRecord[]): string[] {
  const family = records.filter((r) => r.sourceSet !== 'all' && r.k === 3);
  const targets = [...new Set(family.filter((r) => r.variant in VARIANTS).map((r) => r.target))];
  if (targets.length === 0) return [];
  const runsOf = (t: string, v: string) => family.filter((r) => r.target === t && r.variant === v);
  // A column's seeds: those of any of its ablations that also have a main run.
  const columnSeeds = new Map(targets.map((t) => {
    const mainSeeds = new Set(runsOf(t, 'main').map((r) => r.seed));
    const abl = family.filter((r) => r.target === t && r.variant in VARIANTS && mainSeeds.has(r.seed)).map((r) => r.seed);
    return [t, [...new Set(abl)].sort((a, b) => a - b)];
  }));
  const lines = [
    `## Ablations (${SOURCES_LABEL}, K = 3): GPD zero-shot / calibrated / fine-tuned MAE, mean over seeds`,
    '',
    'The reference row is the main setting (pre-bias conditioning, spatial + temporal prompts, DDIM-50); each other row changes one thing.',
    `Seeds per column: ${targets.map((t) => `${t} ${columnSeeds.get(t)!.join(', ')}`).join('; ')}.`,
    '',
    `| variant | ${targets.join(' | ')} |`,
    `|---|${targets.map(() => '---').join('|')}|`,
  ];
  for (const v of ['main', ...Object.keys(VARIANTS)]) {
    const cells = targets.map((t) => {
      const want = columnSeeds.get(t)!;
      const rs = runsOf(t, v).filter((r) => want.includes(r.seed));
      if (rs.length === 0) return '–';
      // Records from before the calibrated row show '–' in its place.
      const f = (m: Method) => {
        const xs = rs.filter((r) => r.methods[m]).map((r) => r.methods[m]!.mae);
        return xs.length === rs.length ? meanStd(xs).mean.toFixed(3) : '–';
      };
      const few = rs.length < want.length ? ` (${rs.length} seed${rs.length > 1 ? 's' : ''})` : '';
      return `${f('gpd_zero_shot')} / ${f('gpd_calibrated')} / ${f('gpd')}${few}`;
    });
    lines.push(`| ${v === 'main' ? 'main (cond:pre-bias)' : v} | ${cells.join(' | ')} |`);
  }
  return [...lines, ''];
}

/** Variants scoring every method (one seed, family sources, K = 3): every method's MAE per variant, per target. */
function fullVariants(records: RunRecord[]): string[] {
  const targets = [...new Set(records.filter((r) => isFullVariant(r.variant)).map((r) => r.target))];
  if (targets.length === 0) return [];
  const variants = ['main', ...Object.keys(FULL_VARIANTS), ...FORMER_FULL_VARIANTS];
  const lines = [
    `## Variants that change every method (one seed, ${SOURCES_LABEL}, K = 3): MAE`,
    '',
    'Each column is one run, named by its encoding (data/baseline.ts: `none` = raw z-scores, the reference; `seasonal` = deviations from a smoothed time-of-day profile; `seasonal-ar` = that plus a damped persistence term the network corrects), whether fine-tuned corrections were shrunk by their least-squares factor on the few-shot validation days (finetune.shrink, transfer/shrink.ts), and whether the encodings of the sources were fitted on sliding 3-day blocks as a target fits its own (bank.encodingFitDays, data/fit-blocks.ts), as its record says. Same seed, regions and windows within a target.',
    '',
  ];
  for (const t of targets) {
    const seed = Math.min(...records.filter((r) => r.target === t && isFullVariant(r.variant)).map((r) => r.seed));
    const pick = (v: string) => records.find((r) => r.target === t && r.sourceSet !== 'all' && r.k === 3 && r.variant === v && r.seed === seed);
    const runs = variants.map(pick).filter((r): r is RunRecord => r !== undefined);
    lines.push(`### ${t} (seed ${seed})`, '', `| method | ${runs.map((r) => (r.variant === 'main' ? `main: ${describeRun(r)}` : describeRun(r))).join(' | ')} |`, `|---|${runs.map(() => '---').join('|')}|`);
    for (const m of METHODS) {
      if (!runs.some((r) => r?.methods[m])) continue;
      lines.push(`| ${METHOD_LABELS[m]} | ${runs.map((r) => (r?.methods[m] ? r.methods[m]!.mae.toFixed(3) : '–')).join(' | ')} |`);
    }
    lines.push('');
  }
  return lines;
}

/** The rows an ablation scores: only the generator changes, so only GPD's own rows can. */
const ABLATION_METHODS: readonly Method[] = ['gpd_zero_shot', 'gpd', 'gpd_calibrated'];

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const recordFile = join(outDir, 'runs.json');
  let records: RunRecord[] = mergeRecords(recordFile, []);
  // A run counts as done when its record holds every method it scores, so rows added to METHODS
  // later are filled in by rerunning the same command (evaluation computes only the missing ones).
  const have = (s: Setting, seed: number, k: number, v: string, methods?: readonly Method[]) =>
    records.some((r) => recordKey(r) === recordKey({ ...s, seed, k, variant: v }) && (methods ?? METHODS.filter((m) => m !== 'seasonal_baseline' || r.encoding !== 'none')).every((m) => r.methods[m]));
  const add = (r: RunRecord) => {
    records = mergeRecords(recordFile, [...records, r]);
    writeJsonAtomic(recordFile, records);
  };

  // Phases in order of importance, so a budget that runs out still leaves the main table complete:
  // every target's family setting, then the ablations, then "all other cities" as sources.
  const all = args.aggregate ? [] : settings();
  const mainRuns = async (s: Setting) => {
    for (const k of ks) {
      for (const seed of seeds) {
        if (have(s, seed, k, 'main')) continue;
        try {
          add(await runOne(s, seed, k, 'main', []));
        } catch (err) {
          // K too large for the city (e.g. K = 7 on la-loop's 7 days): say so and go on.
          console.error(`skipped ${s.target} ${s.sourceSet} K=${k} seed ${seed}: ${(err as Error).message}`);
          if (!/day\(s\)|not enough|few-shot/i.test((err as Error).message)) throw err;
        }
      }
    }
  };
  for (const s of all.filter((x) => x.sourceSet !== 'all')) await mainRuns(s);
  const ablationTargets = args['ablation-targets']?.split(',');
  if (!args['no-ablations']) {
    for (const s of all.filter((x) => x.sourceSet !== 'all' && (!ablationTargets || ablationTargets.includes(x.target)))) {
      for (const seed of ablationSeeds) {
        for (const [variant, extra] of Object.entries(VARIANTS)) {
          if (have(s, seed, 3, variant, ABLATION_METHODS)) continue;
          add(await runOne(s, seed, 3, variant, extra, ABLATION_METHODS));
        }
      }
    }
  }
  if (!args['no-full-variants']) {
    const only = args['full-variants']?.split(',');
    for (const v of only ?? []) if (!(v in FULL_VARIANTS)) throw new Error(`unknown variant ${v}; known: ${Object.keys(FULL_VARIANTS).join(', ')}`);
    for (const s of all.filter((x) => x.sourceSet !== 'all')) {
      for (const [variant, extra] of Object.entries(FULL_VARIANTS)) {
        if (only && !only.includes(variant)) continue;
        if (!have(s, seeds[0]!, 3, variant)) add(await runOne(s, seeds[0]!, 3, variant, extra));
      }
    }
  }
  for (const s of all.filter((x) => x.sourceSet === 'all')) await mainRuns(s);
  records = mergeRecords(recordFile, records);

  // Aggregate: main table per target and source set, and ablations.
  const results: Record<string, unknown> = {};
  const md: string[] = [
    `# GPD experiments (${basename(outDir)})`,
    '',
    `Base model STGCN; conditioning pre-bias unless noted; sampler DDIM-50; seeds ${seeds.join(', ')} (banks share seed 1; a seed sets the generator, sampling, fine-tuning and, where data.maxTargetRegions caps the target, which regions are scored, so methods are compared on the same regions within a seed and the std includes the region sample).`,
    `Code: commit ${gitCommit()} (tables aggregated there; each run folder's config.json, under runs/ and not committed, holds its full settings). Main runs' encoding and shrinking: ${[...new Set(records.filter((r) => r.variant === 'main').map(describeRun))].join('; ') || 'none yet'}.`,
    `Budget: ${args.quick ? 'quick' : 'full'} (${BUDGET.join(' ')}).`,
    args.aggregate
      ? `Tables aggregated by: \`npm run experiments -- ${process.argv.slice(2).join(' ')}\`; each run's own command is in its run folder's config.json (here: \`npm run experiments -- --quick\` with --targets / --seeds / --ablation-targets subsets, two processes sharing this folder).`
      : `Command: \`npm run experiments -- ${process.argv.slice(2).join(' ')}\``,
    '',
  ];
  const main: Record<string, Agg> = {};
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const g = `${r.target}|${r.sourceSet}|${r.k}|${r.variant}`;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(r);
  }
  const detail: string[] = [];
  for (const [g, rs] of groups) {
    const [target, sourceSet, k, variant] = g.split('|') as [string, string, string, string];
    const agg = aggregate(rs);
    results[g] = { target, sourceSet, k: Number(k), variant, sources: rs[0]!.sources, regions: rs[0]!.regions, methods: agg };
    if (variant !== 'main') continue;
    detail.push(table(`${target} ← ${rs[0]!.sources.join(', ')} (${sourceSet}, K = ${k}, ${rs[0]!.regions} regions, ${rs.length} seed(s))`, agg), '');
    if (Number(k) === 3 && (sourceSet === 'family' || sourceSet === 'given')) main[target] = agg;
  }
  md.push(...summary(main), ...verdicts(main, records), ...acrossSettings(records), '## Per-horizon tables', '', ...detail, ...fullVariants(records), ...variantsOverSeeds(records), ...ablations(records));
  writeJsonAtomic(join(outDir, 'results.json'), results);
  writeFileAtomic(join(outDir, 'table.md'), md.join('\n') + '\n');
  const checked: CheckedSummary = {};
  for (const [t, agg] of Object.entries(main)) {
    checked[t] = {};
    for (const [m, a] of Object.entries(agg)) checked[t][m] = { mae: a!.mae, rmse: a!.rmse, mae_std: a!.mae_std };
  }
  // The checked summary comes only from a run into results/ (a scratch --out elsewhere must not overwrite it).
  // It is also kept when this folder's summary would drop targets it holds (experiments/checked-summary.ts).
  if (!args.target && !args['no-summary'] && outDir.startsWith(join(root, 'results') + '/')) {
    const file = join(root, 'results', 'results.json');
    const why = summaryReplacementBlocked(existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CheckedSummary) : null, checked);
    if (why) console.log(why);
    else writeJsonAtomic(file, checked);
  }
  console.log(`results: ${join(outDir, 'table.md')}`);
}

await main();
