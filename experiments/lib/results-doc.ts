/**
 * docs/results.md, rendered from the checked summaries (results/results.json for STGCN,
 * results/results-gwn.json for Graph WaveNet) and the runs.json of every results folder: the main
 * table, the verdicts, the table across settings, the Graph WaveNet table, the ablations and an index
 * of the folders. The folder behind each summary is the one whose records reproduce its numbers, so
 * the verdicts and the other tables come from the same runs. Pure: summary.ts does the reading.
 */
import { join } from 'node:path';
import { acrossSettings, headline, maeTable, verdictLines, type Agg } from './aggregate.js';
import { dailyWindowNotes, skippedKLines, type SkippedK } from './cities.js';
import type { CheckedSummary } from './checked-summary.js';
import { settingsPhrase, type RunRecord } from './records.js';
import { ALL_CITIES, FAMILIES, GWN_VARIANT, familyOf } from './settings.js';
import { gwnSection } from './tables.js';
import { ablations, fullVariants, variantsOverSeeds } from './variant-tables.js';

export interface ResultsFolder {
  /** The folder's name under results/ (e.g. 2026-12-02-prescale). */
  name: string;
  records: RunRecord[];
  /** The budget its table.md names (records written before they carried it do not). */
  budget?: string;
}

export interface ResultsDocInput {
  stgcn: CheckedSummary | null;
  gwn: CheckedSummary | null;
  /** Newest first. */
  folders: ResultsFolder[];
  /** Sentence per city covering only part of each day (CityBook.dailyText), by city name. */
  dailyText: (city: string) => string | null;
  /** K values the data do not allow, for the targets and K values of the source folder. */
  skipped: (targets: string[], ks: number[]) => SkippedK[];
  /** The folder results/ (run folders of records written before records described themselves are read there). */
  resultsDir: string;
}

/** Do two numbers agree to rounding (the summary is written from the same aggregate)? */
const same = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** The newest folder whose headline setting of `variant` reproduces the summary (same targets, every method's MAE, RMSE and std). */
export function summarySource(summary: CheckedSummary, folders: ResultsFolder[], variant: string): { folder: ResultsFolder; main: Record<string, Agg> } | null {
  for (const folder of folders) {
    const main = headline(folder.records, variant);
    const targets = Object.keys(summary);
    if (targets.length !== Object.keys(main).length) continue;
    const matches = targets.every((t) => {
      const rows = Object.entries(summary[t]!);
      return main[t] !== undefined && rows.length === Object.keys(main[t]!).length &&
        rows.every(([m, s]) => {
          const a = main[t]![m as keyof Agg];
          return a !== undefined && same(a.mae, s.mae) && same(a.rmse, s.rmse) && same(a.mae_std, s.mae_std);
        });
    });
    if (matches) return { folder, main };
  }
  return null;
}

/** Targets in the order of the families (unknown cities last, as given). */
const byFamilyOrder = (targets: string[]) => [...targets].sort((a, b) => (ALL_CITIES.indexOf(a) + 1 || 1e9) - (ALL_CITIES.indexOf(b) + 1 || 1e9));
const column = (t: string) => (familyOf(t) ? `${t} (${familyOf(t)})` : t);
const link = (f: ResultsFolder) => `[results/${f.name}/table.md](../results/${f.name}/table.md)`;
const seedsOf = (rs: RunRecord[]) => [...new Set(rs.map((r) => r.seed))].sort((a, b) => a - b).join(', ');

/** Budget and command of a folder's runs, from the records when they carry them, else its table.md. */
function provenance(folder: ResultsFolder, runs: RunRecord[]): string {
  const budgets = [...new Set(runs.map((r) => r.budget).filter((b) => b !== undefined))];
  const commands = [...new Set(runs.map((r) => r.command).filter((c) => c !== undefined))];
  const budget = budgets.length > 0 ? budgets.join(' / ') : (folder.budget ?? 'as its table.md says');
  const command = commands.length > 0 ? commands.map((c) => `\`${c}\``).join(', ') : `in the header of ${link(folder)}`;
  return `Budget: ${budget}. Command: ${command} (rerunning it skips finished runs; \`--aggregate\` rebuilds the tables from runs.json).`;
}

const dailyNotes = (targets: string[], input: ResultsDocInput) => dailyWindowNotes(targets, input.dailyText);

/** A line naming each target's seeds when they differ between targets (a one-seed "± 0.000" is no spread). */
function unevenSeeds(targets: string[], runs: RunRecord[]): string[] {
  const per = targets.map((t) => [t, seedsOf(runs.filter((r) => r.target === t))] as const).filter(([, s]) => s !== '');
  if (new Set(per.map(([, s]) => s)).size <= 1) return [];
  return [`Seeds differ between targets: ${per.map(([t, s]) => `${t} ${s}`).join('; ')} (with one seed, ± 0.000 means no spread was measured).`];
}

function mainSection(input: ResultsDocInput, source: ReturnType<typeof summarySource>): string[] {
  const summary = input.stgcn;
  if (!summary) return ['## Main table', '', 'No checked summary yet (results/results.json): run `npm run experiments` into a folder under results/.', ''];
  const targets = byFamilyOrder(Object.keys(summary));
  const missing = ALL_CITIES.filter((c) => !(c in summary));
  const runs = source ? source.folder.records.filter((r) => r.variant === 'main' && r.k === 3 && r.sourceSet !== 'all') : [];
  const lines = [
    '## Main table: MAE (mean ± std over seeds), family sources, K = 3',
    '',
    `From [results/results.json](../results/results.json)${source ? `, reproduced by the runs of ${link(source.folder)}` : '; no results folder reproduces these numbers, so the tables below that need its runs are left out'}.`,
    ...(source ? [`${settingsPhrase(runs)}; seeds ${seedsOf(runs)}. ${provenance(source.folder, runs)}`] : []),
    `Families (leave one city out): ${Object.entries(FAMILIES).map(([f, cs]) => `${f} = {${cs.join(', ')}}`).join('; ')}.`,
    ...(missing.length > 0 ? [`Not in the summary yet: ${missing.join(', ')}.`] : []),
    ...unevenSeeds(targets, runs),
    ...dailyNotes(targets, input),
    '',
    ...maeTable(Object.fromEntries(targets.map((t) => [t, summary[t]!])), column),
    '',
  ];
  if (!source) return lines;
  return [...lines, '## Where GPD wins and where it does not (mean MAE, family sources, K = 3; in how many seeds)', '', ...verdictLines(Object.fromEntries(byFamilyOrder(Object.keys(source.main)).map((t) => [t, source.main[t]!])), source.folder.records), ''];
}

function acrossSection(input: ResultsDocInput, source: NonNullable<ReturnType<typeof summarySource>>): string[] {
  const records = source.folder.records;
  const mains = records.filter((r) => r.variant === 'main');
  const targets = [...new Set(mains.map((r) => r.target))];
  const ks = [...new Set(mains.map((r) => r.k))];
  const across = acrossSettings(records);
  const skipped = skippedKLines(input.skipped(targets, ks));
  if (across.length === 0 && skipped.length === 0) return [];
  const notes = dailyNotes(targets, input);
  return [...across, ...(notes.length > 0 ? [...notes, ''] : []), ...skipped];
}

function gwnDocSection(input: ResultsDocInput): string[] {
  if (!input.gwn) return ['## Graph WaveNet', '', 'No Graph WaveNet summary yet (results/results-gwn.json): run `npm run experiments -- --gwn-targets <targets>` into a folder under results/.', ''];
  const source = summarySource(input.gwn, input.folders, GWN_VARIANT);
  const targets = byFamilyOrder(Object.keys(input.gwn));
  if (!source) {
    return ['## Graph WaveNet: MAE (mean ± std over seeds), family sources, K = 3', '', 'From [results/results-gwn.json](../results/results-gwn.json); no results folder reproduces these numbers.', ...dailyNotes(targets, input), '', ...maeTable(Object.fromEntries(targets.map((t) => [t, input.gwn![t]!])), column), ''];
  }
  const runs = source.folder.records.filter((r) => r.variant === GWN_VARIANT);
  const ordered = Object.fromEntries(targets.map((t) => [t, source.main[t]!]));
  return [...gwnSection(source.folder.records, ordered, 'family sources'), `From [results/results-gwn.json](../results/results-gwn.json), reproduced by the runs of ${link(source.folder)}. ${provenance(source.folder, runs)}`, ...dailyNotes(targets, input), ''];
}

function folderIndex(folders: ResultsFolder[]): string[] {
  const lines = ['## Every results folder', '', '| folder | budget | targets | seeds | runs |', '|---|---|---|---|---|'];
  for (const f of folders) {
    const budgets = [...new Set(f.records.map((r) => r.budget).filter((b) => b !== undefined))];
    const targets = byFamilyOrder([...new Set(f.records.map((r) => r.target))]);
    lines.push(`| ${link(f)} | ${budgets.length > 0 ? budgets.join(' / ') : (f.budget ?? '–')} | ${targets.join(', ')} | ${seedsOf(f.records)} | ${f.records.length} |`);
  }
  return [...lines, ''];
}

export function renderResultsDoc(input: ResultsDocInput): string {
  const source = input.stgcn ? summarySource(input.stgcn, input.folders, 'main') : null;
  const ctx = { sourcesLabel: 'family sources', outDir: source ? join(input.resultsDir, source.folder.name) : input.resultsDir };
  const lines = [
    '# Results',
    '',
    'Generated by the experiments command (`npm run experiments`, also with `--aggregate`; docs/experiments.md) from',
    'results/results.json, results/results-gwn.json and the runs.json of every folder under results/. Do not edit',
    'by hand: rerun `npm run experiments -- --aggregate --out results/<folder>` (with that folder\'s `--quick`).',
    'Every number is a test-period error in the city\'s own units (PROTOCOL.md); lower is better.',
    '',
    ...mainSection(input, source),
    ...(source ? acrossSection(input, source) : []),
    ...gwnDocSection(input),
    ...(source ? [...ablations(source.folder.records, ctx), ...fullVariants(source.folder.records, ctx), ...variantsOverSeeds(source.folder.records, ctx)] : []),
    ...folderIndex(input.folders),
  ];
  return lines.join('\n').replace(/\n{3,}/g, '\n\n');
}
