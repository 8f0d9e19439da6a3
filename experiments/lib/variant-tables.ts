/**
 * Tables of the variants of the headline setting (family sources, K = 3): the ablations (GPD's own
 * rows), the variants that change every method (one seed), and those variants over several seeds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METHODS, METHOD_LABELS, RunFolder, type Method } from '../../src/index.js';
import { aggregate, fmt, meanStd } from './aggregate.js';
import { runKey, type RunRecord } from './records.js';
import { FORMER_FULL_VARIANTS, FULL_VARIANTS, VARIANTS, isFullVariant } from './settings.js';

export interface TableContext {
  /** How the tables name the non-"all" source set ("family sources", "the given sources"). */
  sourcesLabel: string;
  /** The output folder, whose run folders describe records written before records carried their settings. */
  outDir: string;
}

/** "seasonal-ar, shrink on": from the record, or for records written before it carried them, from the run folder's config.json. */
export function describeRun(r: RunRecord, outDir: string): string {
  const fit = r.encodingFitDays !== undefined ? `, sources fitted on ${r.encodingFitDays}-day blocks` : '';
  const pre = r.prescale !== undefined ? `, prescale ${r.prescale ? 'on' : 'off'}` : '';
  if (r.encoding !== undefined && r.shrink !== undefined) return `${r.encoding}, shrink ${r.shrink ? 'on' : 'off'}${pre}${fit}`;
  const file = new RunFolder(join(outDir, 'runs', runKey(r))).path('config');
  if (!existsSync(file)) return r.variant;
  const c = (JSON.parse(readFileSync(file, 'utf8')) as { config: { data: { baseline?: string }; finetune: { shrink?: boolean } } }).config;
  return `${c.data.baseline ?? 'none'}, shrink ${c.finetune.shrink ? 'on' : 'off'}`;
}

/**
 * Variants scoring every method that were run at more than one seed: mean ± std over those seeds
 * beside the main runs of the same seeds, and how often fine-tuned GPD beat target-only and HA.
 */
export function variantsOverSeeds(records: RunRecord[], ctx: TableContext): string[] {
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
      // Paired by seed, as in verdictLines().
      const wins = (a: Method, b: Method) => ours.filter((r) => r.methods[a] && r.methods[b] && r.methods[a]!.mae < r.methods[b]!.mae).length;
      if (lines.length === 0) lines.push(`## Variants over several seeds (${ctx.sourcesLabel}, K = 3): MAE mean ± std`, '');
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
export function ablations(records: RunRecord[], ctx: Pick<TableContext, 'sourcesLabel'>): string[] {
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
    `## Ablations (${ctx.sourcesLabel}, K = 3): GPD zero-shot / calibrated / fine-tuned MAE, mean over seeds`,
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
export function fullVariants(records: RunRecord[], ctx: TableContext): string[] {
  const targets = [...new Set(records.filter((r) => isFullVariant(r.variant)).map((r) => r.target))];
  if (targets.length === 0) return [];
  const variants = ['main', ...Object.keys(FULL_VARIANTS), ...FORMER_FULL_VARIANTS];
  const lines = [
    `## Variants that change every method (one seed, ${ctx.sourcesLabel}, K = 3): MAE`,
    '',
    'Each column is one run, named by its encoding (data/baseline.ts: `none` = raw z-scores, the reference; `seasonal` = deviations from a smoothed time-of-day profile; `seasonal-ar` = that plus a damped persistence term the network corrects), whether fine-tuned corrections were shrunk by their least-squares factor on the few-shot validation days (finetune.shrink, transfer/shrink.ts), and whether the encodings of the sources were fitted on sliding 3-day blocks as a target fits its own (bank.encodingFitDays, data/fit-blocks.ts), as its record says. Same seed, regions and windows within a target.',
    '',
  ];
  for (const t of targets) {
    const seed = Math.min(...records.filter((r) => r.target === t && isFullVariant(r.variant)).map((r) => r.seed));
    const pick = (v: string) => records.find((r) => r.target === t && r.sourceSet !== 'all' && r.k === 3 && r.variant === v && r.seed === seed);
    const runs = variants.map(pick).filter((r): r is RunRecord => r !== undefined);
    const name = (r: RunRecord) => (r.variant === 'main' ? `main: ${describeRun(r, ctx.outDir)}` : describeRun(r, ctx.outDir));
    lines.push(`### ${t} (seed ${seed})`, '', `| method | ${runs.map(name).join(' | ')} |`, `|---|${runs.map(() => '---').join('|')}|`);
    for (const m of METHODS) {
      if (!runs.some((r) => r?.methods[m])) continue;
      lines.push(`| ${METHOD_LABELS[m]} | ${runs.map((r) => (r?.methods[m] ? r.methods[m]!.mae.toFixed(3) : '–')).join(' | ')} |`);
    }
    lines.push('');
  }
  return lines;
}
