/**
 * The files under results/ and docs/ that summarise every folder: the checked summaries
 * (results/results.json for the STGCN main setting, results/results-gwn.json for Graph WaveNet, both
 * `{ target: { method: { mae, rmse, mae_std } } }`) and docs/results.md rendered from them and the
 * folders' runs.json (results-doc.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../src/index.js';
import type { Agg } from './aggregate.js';
import { checkedSummaryOf, summaryReplacementBlocked, type CheckedSummary } from './checked-summary.js';
import type { CityBook } from './cities.js';
import { readRecords } from './records.js';
import { renderResultsDoc, type ResultsFolder } from './results-doc.js';
import { ROOT } from './settings.js';

export const SUMMARY_FILES = { stgcn: 'results.json', gwn: 'results-gwn.json' } as const;

const readSummary = (file: string) => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CheckedSummary) : null);

/**
 * Replace each checked summary with this folder's headline aggregate, unless that would drop targets
 * the current file holds (checked-summary.ts); a folder without Graph WaveNet runs leaves that file alone.
 */
export function writeCheckedSummaries(main: Record<string, Agg>, gwn: Record<string, Agg>, root = ROOT): void {
  for (const [kind, agg] of [['stgcn', main], ['gwn', gwn]] as const) {
    if (Object.keys(agg).length === 0) continue;
    const file = join(root, 'results', SUMMARY_FILES[kind]);
    const next = checkedSummaryOf(agg);
    const why = summaryReplacementBlocked(readSummary(file), next, `results/${SUMMARY_FILES[kind]}`);
    if (why) console.log(why);
    else writeJsonAtomic(file, next);
  }
}

/** Every folder under results/ holding a runs.json, newest (by name: dates) first, with the budget its table.md names. */
export function resultsFolders(root = ROOT): ResultsFolder[] {
  const dir = join(root, 'results');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'runs.json')))
    .map((e) => e.name)
    .sort()
    .reverse()
    .map((name) => {
      const table = join(dir, name, 'table.md');
      const budget = existsSync(table) ? /^Budget: (\w+)/m.exec(readFileSync(table, 'utf8'))?.[1] : undefined;
      return { name, records: readRecords(join(dir, name, 'runs.json')), ...(budget ? { budget } : {}) };
    });
}

/** Render docs/results.md from results/ (returns its path). */
export function writeResultsDoc(book: CityBook, root = ROOT): string {
  const file = join(root, 'docs', 'results.md');
  const text = renderResultsDoc({
    stgcn: readSummary(join(root, 'results', SUMMARY_FILES.stgcn)),
    gwn: readSummary(join(root, 'results', SUMMARY_FILES.gwn)),
    folders: resultsFolders(root),
    dailyText: (c) => book.dailyText(c),
    skipped: (targets, ks) => book.skipped(targets, ks),
    resultsDir: join(root, 'results'),
  });
  writeFileAtomic(file, text);
  return file;
}
