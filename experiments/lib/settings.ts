/**
 * What the experiments command runs: its options, the city families of PROTOCOL.md, the budgets,
 * the variants (ablations and the variants that change every method) and the source settings per
 * target. No I/O beyond reading the command line.
 */
import { join, resolve, basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Method } from '../../src/index.js';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const cityManifest = (name: string, root = ROOT) => join(root, 'cities', `${name}.city.json`);
/** A city's name from its manifest path (`cities/la-loop.city.json` -> `la-loop`). */
export const cityName = (manifest: string) => basename(manifest).replace(/(\.city)?\.json$/, '');

/** Leave-one-city-out families (PROTOCOL.md), in the order the tables list them. */
export const FAMILIES: Record<string, string[]> = {
  speed: ['la-loop', 'shenzhen-sztaxi40'],
  flow: ['nyc-bike-grid', 'montevideo-bus'],
  'ride-hailing': ['didi-chengdu', 'didi-xian'],
  metro: ['metro-shanghai', 'metro-chongqing'],
};
export const ALL_CITIES = Object.values(FAMILIES).flat();
export const familyOf = (city: string) => Object.keys(FAMILIES).find((f) => FAMILIES[f]!.includes(city));

/** Budgets: the full protocol, or a reduced one that fits an afternoon on 2 cores (Graph WaveNet always runs at this one). */
export const BUDGETS = {
  quick: ['bank.maxRegions=40', 'data.maxTargetRegions=24', 'bank.epochs=15', 'bank.sharedEpochs=8', 'diffusion.steps=600', 'finetune.epochs=15'],
  full: ['data.maxTargetRegions=64'],
} as const;
export type BudgetName = keyof typeof BUDGETS;

/** Ablations of the main setting (pre-bias conditioning, both prompts, DDIM-50), whose seed-1 run is the reference row. */
export const VARIANTS: Record<string, string[]> = {
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
export const FULL_VARIANTS: Record<string, string[]> = {
  'baseline:none': ['data.baseline=none'],
  'baseline:seasonal': ['data.baseline=seasonal'],
  'finetune:no-shrink': ['finetune.shrink=false'],
  'finetune:no-prescale': ['finetune.prescale=false'],
  'bank:fit-3-days': ['bank.encodingFitDays=3'],
};
/** Variant names older result folders hold (shrinking was off by default before 2026-12-02). */
export const FORMER_FULL_VARIANTS = ['finetune:shrink'];
export const isFullVariant = (v: string) => v in FULL_VARIANTS || FORMER_FULL_VARIANTS.includes(v);

/**
 * The main setting with Graph WaveNet as the base model (its own bank; quick budget). A GWN step costs
 * 17-92x an STGCN one, so its bank draws at most 1,500 training windows per region and epoch: more
 * than any 60- or 92-day source holds (didi 1,135, metro-shanghai 1,307: the cap does not bind and
 * their banks train exactly as without it), a fresh 29% of metro-chongqing's year (5,239) each epoch.
 */
export const GWN_VARIANT = 'model:gwn';
export const GWN_OVERRIDES = ['bank.model=gwn', 'bank.maxWindowsPerEpoch=1500'];

/** The rows an ablation scores: only the generator changes, so only GPD's own rows can. */
export const ABLATION_METHODS: readonly Method[] = ['gpd_zero_shot', 'gpd', 'gpd_calibrated'];

export const USAGE = `npm run experiments -- [options]

  --quick                 reduced budget (region caps, fewer epochs and diffusion steps)
  --targets a,b           shared cities to run as targets (default: all eight)
  --target <manifest>     an unseen city as the target (--sources: comma-separated manifests, default all eight)
  --seeds 1,2,3           seeds (default 1,2,3);  --k 3[,1,7]  few-shot days (default 3; a K the target's
                          data do not allow is skipped with a note)
  --out <dir>             output folder (default results/<today>); results/results.json and
                          docs/results.md only when under results/
  --no-ablations          skip the GPD ablations;  --ablation-targets a,b  run them only on these targets
  --ablation-seeds 1,2    seeds of the ablations (default: the first of --seeds)
  --no-all-sources        skip "all other cities as sources"
  --no-full-variants      skip the variants scoring every method;  --full-variants v1,v2  only these
  --gwn-targets a,b       also run the main setting with Graph WaveNet (bank.model=gwn, quick budget) on these
  --gwn-seeds 1           seeds of the Graph WaveNet runs (default: the first of --seeds)
  --parallel N            run N transfer runs at once in child processes (default 1; banks are built first,
                          one at a time)
  --banks-only            build (or finish) every bank the planned runs need, one at a time, and stop
  --aggregate             only rebuild the tables from <out>/runs.json
  --no-summary            never write results/results.json (e.g. a one-seed run beside the 3-seed summary)
  --set key=value         extra configuration override for every run (repeatable)`;

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
  'no-full-variants': { type: 'boolean', default: false },
  'full-variants': { type: 'string' },
  'ablation-targets': { type: 'string' },
  'ablation-seeds': { type: 'string' },
  'gwn-targets': { type: 'string' },
  'gwn-seeds': { type: 'string' },
  parallel: { type: 'string', default: '1' },
  'banks-only': { type: 'boolean', default: false },
  aggregate: { type: 'boolean', default: false },
  'no-summary': { type: 'boolean', default: false },
  set: { type: 'string', multiple: true, default: [] as string[] },
} as const;

export interface ExperimentOptions {
  help: boolean;
  budget: BudgetName;
  /** Shared cities to run as targets (ignored with `target`). */
  targets: string[];
  /** An unseen city's manifest as the only target, with `sources` as its source manifests. */
  target?: string;
  sources?: string[];
  seeds: number[];
  ks: number[];
  outDir: string;
  ablations: boolean;
  ablationTargets?: string[];
  ablationSeeds: number[];
  allSources: boolean;
  fullVariants: boolean;
  onlyFullVariants?: string[];
  gwnTargets: string[];
  gwnSeeds: number[];
  parallel: number;
  /** Build the planned runs' banks and stop (e.g. ahead of a decision that affects only the runs). */
  banksOnly: boolean;
  aggregate: boolean;
  summary: boolean;
  set: string[];
  /** The command line as typed after `npm run experiments --`. */
  argv: string[];
}

export class UsageError extends Error {}

function numbers(flag: string, text: string): number[] {
  const xs = text.split(',').map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isInteger(x))) throw new UsageError(`--${flag} expects comma-separated integers, got "${text}"`);
  return xs;
}

function knownCities(flag: string, text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const names = text.split(',').map((s) => s.trim());
  for (const n of names) if (!ALL_CITIES.includes(n)) throw new UsageError(`--${flag}: unknown city ${n}; known: ${ALL_CITIES.join(', ')} (or pass --target <manifest>)`);
  return names;
}

/** Parse the command line (throws UsageError with a message naming the option). */
export function parseOptions(argv: string[], today = new Date().toISOString().slice(0, 10), root = ROOT): ExperimentOptions {
  let values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const seeds = numbers('seeds', values.seeds!);
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`--parallel expects a positive integer, got "${values.parallel}"`);
  const onlyFullVariants = values['full-variants']?.split(',');
  for (const v of onlyFullVariants ?? []) if (!(v in FULL_VARIANTS)) throw new UsageError(`--full-variants: unknown variant ${v}; known: ${Object.keys(FULL_VARIANTS).join(', ')}`);
  const ks = numbers('k', values.k!);
  if (ks.some((k) => k < 1)) throw new UsageError(`--k expects positive day counts, got "${values.k}"`);
  return {
    help: values.help!,
    budget: values.quick ? 'quick' : 'full',
    targets: knownCities('targets', values.targets) ?? ALL_CITIES,
    ...(values.target ? { target: values.target } : {}),
    ...(values.sources ? { sources: values.sources.split(',') } : {}),
    seeds,
    ks,
    outDir: resolve(values.out ?? join(root, 'results', today)),
    ablations: !values['no-ablations'],
    ...(values['ablation-targets'] ? { ablationTargets: values['ablation-targets'].split(',') } : {}),
    ablationSeeds: values['ablation-seeds'] ? numbers('ablation-seeds', values['ablation-seeds']) : [seeds[0]!],
    allSources: !values['no-all-sources'],
    fullVariants: !values['no-full-variants'],
    ...(onlyFullVariants ? { onlyFullVariants } : {}),
    gwnTargets: knownCities('gwn-targets', values['gwn-targets']) ?? [],
    gwnSeeds: values['gwn-seeds'] ? numbers('gwn-seeds', values['gwn-seeds']) : [seeds[0]!],
    parallel,
    banksOnly: values['banks-only']!,
    aggregate: values.aggregate!,
    summary: !values['no-summary'],
    set: values.set!,
    argv,
  };
}

/** One source setting of one target: its family (or the given sources), or all other cities. */
export interface Setting {
  target: string;
  targetRef: string;
  sourceSet: 'family' | 'all' | 'given';
  sources: string[];
}

/** How the tables name the non-"all" source set: a family, or the --sources of an unseen --target. */
export const sourcesLabel = (o: Pick<ExperimentOptions, 'target'>) => (o.target ? 'the given sources' : 'family sources');

export function settingsOf(o: ExperimentOptions, root = ROOT): Setting[] {
  if (o.target) {
    const sources = o.sources ?? ALL_CITIES.map((c) => cityManifest(c, root));
    return [{ target: cityName(o.target), targetRef: o.target, sourceSet: 'given', sources }];
  }
  const out: Setting[] = [];
  for (const t of o.targets) {
    const fam = FAMILIES[familyOf(t)!]!;
    out.push({ target: t, targetRef: cityManifest(t, root), sourceSet: 'family', sources: fam.filter((c) => c !== t).map((c) => cityManifest(c, root)) });
    if (o.allSources) out.push({ target: t, targetRef: cityManifest(t, root), sourceSet: 'all', sources: ALL_CITIES.filter((c) => c !== t).map((c) => cityManifest(c, root)) });
  }
  return out;
}
