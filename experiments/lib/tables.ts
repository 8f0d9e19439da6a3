/**
 * One output folder's tables: <out>/table.md (every table of its runs, with the settings PROTOCOL.md
 * asks a table to name) and <out>/results.json (the aggregate of every setting and variant). Pure:
 * the caller passes the records and what the records cannot say (command line, commit, city notes).
 */
import { basename } from 'node:path';
import { acrossSettings, aggregate, groupRecords, headline, maeTable, summary, table, verdictLines, verdicts, type Agg } from './aggregate.js';
import { skippedKLines, type SkippedK } from './cities.js';
import { modelLabel, settingsPhrase, type RunRecord } from './records.js';
import { GWN_OVERRIDES, GWN_VARIANT, type BudgetName } from './settings.js';
import { ablations, describeRun, fullVariants, variantsOverSeeds, type TableContext } from './variant-tables.js';

export interface FolderTablesInput extends TableContext {
  records: RunRecord[];
  /** The seeds the command was given (the header names them). */
  seeds: number[];
  budget: BudgetName;
  budgetOverrides: readonly string[];
  /** --set overrides applied after the budget's. */
  set: readonly string[];
  /** The command line after `npm run experiments --`, and whether it only aggregated. */
  argv: string[];
  aggregateOnly: boolean;
  commit: string;
  skipped: SkippedK[];
  /** Sentences for the cities covering only part of each day (cities/*.city.json `daily`). */
  dailyNotes: string[];
}

export interface FolderTables {
  markdown: string;
  /** `target|sourceSet|k|variant` -> that setting's aggregate. */
  results: Record<string, unknown>;
  /** The headline setting (family or given sources, K = 3) per target: STGCN main runs and Graph WaveNet runs. */
  main: Record<string, Agg>;
  gwn: Record<string, Agg>;
}

function header(o: FolderTablesInput): string[] {
  const mains = o.records.filter((r) => r.variant === 'main');
  const command = o.argv.join(' ');
  return [
    `# GPD experiments (${basename(o.outDir)})`,
    '',
    `${settingsPhrase(mains)}; seeds ${o.seeds.join(', ')} (banks share seed 1; a seed sets the generator, sampling, fine-tuning and, where data.maxTargetRegions caps the target, which regions are scored, so methods are compared on the same regions within a seed and the std includes the region sample).`,
    `Code: commit ${o.commit} (tables aggregated there; each run folder's config.json, under runs/ and not committed, holds its full settings). Main runs' encoding and shrinking: ${[...new Set(mains.map((r) => describeRun(r, o.outDir)))].join('; ') || 'none yet'}.`,
    `Budget: ${o.budget} (${o.budgetOverrides.join(' ')})${o.set.length > 0 ? `, then --set ${o.set.join(' ')}` : ''}.`,
    o.aggregateOnly
      ? `Tables aggregated by: \`npm run experiments -- ${command}\`; each run's own command is in its run folder's config.json (here: \`npm run experiments -- --quick\` with --targets / --seeds / --ablation-targets subsets, two processes sharing this folder).`
      : `Command: \`npm run experiments -- ${command}\``,
    ...(o.dailyNotes.length > 0 ? [`Cities covering part of each day: ${o.dailyNotes.join(' ')}`] : []),
    '',
  ];
}

/** The Graph WaveNet runs' own section: their settings, the MAE table, the verdicts and per-horizon tables. */
export function gwnSection(records: RunRecord[], gwn: Record<string, Agg>, sourcesLabel: string): string[] {
  const runs = records.filter((r) => r.variant === GWN_VARIANT);
  if (Object.keys(gwn).length === 0) return [];
  const seeds = [...new Set(runs.map((r) => r.seed))].sort((a, b) => a - b);
  const budgets = [...new Set(runs.map((r) => r.budget ?? 'quick'))].join(' / ');
  const detail = [...groupRecords(runs)].filter(([, rs]) => rs[0]!.k === 3 && rs[0]!.sourceSet !== 'all');
  return [
    `## ${modelLabel('gwn')}: MAE (mean ± std over seeds), ${sourcesLabel}, K = 3`,
    '',
    `${settingsPhrase(runs)}; seeds ${seeds.join(', ')}; ${budgets} budget; variant \`${GWN_VARIANT}\` (${GWN_OVERRIDES.join(', ')}, its own bank), everything else as the main runs.`,
    '',
    ...maeTable(gwn),
    '',
    ...verdictLines(gwn, records, GWN_VARIANT),
    '',
    ...detail.flatMap(([, rs]) => [table(`${rs[0]!.target} ← ${rs[0]!.sources.join(', ')} (${modelLabel('gwn')}, K = ${rs[0]!.k}, ${rs[0]!.regions} regions, ${rs.length} seed(s))`, aggregate(rs)), '']),
  ];
}

export function folderTables(o: FolderTablesInput): FolderTables {
  const results: Record<string, unknown> = {};
  const detail: string[] = [];
  for (const [g, rs] of groupRecords(o.records)) {
    const [target, sourceSet, k, variant] = g.split('|') as [string, string, string, string];
    const agg = aggregate(rs);
    results[g] = { target, sourceSet, k: Number(k), variant, ...(rs[0]!.model ? { model: rs[0]!.model } : {}), sources: rs[0]!.sources, regions: rs[0]!.regions, methods: agg };
    if (variant !== 'main') continue;
    detail.push(table(`${target} ← ${rs[0]!.sources.join(', ')} (${sourceSet}, K = ${k}, ${rs[0]!.regions} regions, ${rs.length} seed(s))`, agg), '');
  }
  const main = headline(o.records, 'main');
  const gwn = headline(o.records, GWN_VARIANT);
  const md = [
    ...header(o),
    ...summary(main, o.sourcesLabel),
    ...skippedKLines(o.skipped),
    ...verdicts(main, o.records, o.sourcesLabel),
    ...acrossSettings(o.records),
    '## Per-horizon tables',
    '',
    ...detail,
    ...fullVariants(o.records, o),
    ...variantsOverSeeds(o.records, o),
    ...ablations(o.records, o),
    ...gwnSection(o.records, gwn, o.sourcesLabel),
  ];
  return { markdown: md.join('\n') + '\n', results, main, gwn };
}
