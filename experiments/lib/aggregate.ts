/**
 * From run records to numbers and tables: mean ± std over seeds per method, the per-horizon table,
 * the summary across targets, the verdicts computed from the numbers, and the table across source
 * sets and K. Pure functions of the records (no I/O), shared by table.md and docs/results.md.
 */
import { METHODS, METHOD_LABELS, type Method } from '../../src/index.js';
import type { RunRecord } from './records.js';

export function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

export interface MethodAgg {
  mae: number;
  rmse: number;
  mae_std: number;
  rmse_std: number;
  maeByHorizon: number[];
  seeds: number;
}
export type Agg = Partial<Record<Method, MethodAgg>>;

/** Mean and sample std over the records (one per seed) of every method they score. */
export function aggregate(records: RunRecord[]): Agg {
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

/** The records of one setting's runs, grouped as `target|sourceSet|k|variant` in the order first seen. */
export function groupRecords(records: RunRecord[]): Map<string, RunRecord[]> {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const g = `${r.target}|${r.sourceSet}|${r.k}|${r.variant}`;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(r);
  }
  return groups;
}

/** Is this a record of the headline setting: the variant's runs with the family (or given) sources at K = 3? */
export const isHeadline = (r: RunRecord, variant: string) => r.variant === variant && r.k === 3 && r.sourceSet !== 'all';

/** Per target, the aggregate of its headline setting (family or given sources, K = 3) for one variant, in the order first seen. */
export function headline(records: RunRecord[], variant = 'main'): Record<string, Agg> {
  const out: Record<string, Agg> = {};
  for (const [g, rs] of groupRecords(records)) {
    const [target, sourceSet, k, v] = g.split('|') as [string, string, string, string];
    if (v === variant && Number(k) === 3 && (sourceSet === 'family' || sourceSet === 'given')) out[target] = aggregate(rs);
  }
  return out;
}

/** Per-horizon MAE and mean ± std of MAE and RMSE of every method of one setting. */
export function table(title: string, agg: Agg): string {
  const lines = [`### ${title}`, '', '| method | MAE@1 | MAE@2 | MAE@3 | MAE@4 | MAE@5 | MAE@6 | MAE (mean ± std) | RMSE (mean ± std) |', '|---|---|---|---|---|---|---|---|---|'];
  for (const m of METHODS) {
    const a = agg[m];
    if (!a) continue;
    lines.push(`| ${METHOD_LABELS[m]} | ${a.maeByHorizon.map((v) => v.toFixed(3)).join(' | ')} | ${a.mae.toFixed(3)} ± ${a.mae_std.toFixed(3)} | ${a.rmse.toFixed(3)} ± ${a.rmse_std.toFixed(3)} |`);
  }
  return lines.join('\n');
}

export const fmt = (a: { mae: number; mae_std: number } | undefined) => (a ? `${a.mae.toFixed(3)} ± ${a.mae_std.toFixed(3)}` : '–');

/** MAE mean ± std per target and method (an aggregate, or the checked summary's rows). */
export type MaeCells = Record<string, Partial<Record<Method, { mae: number; mae_std: number }>>>;

/** Methods as rows (every method of METHODS, '–' where a target lacks it), targets as columns; `column` may rename a header. */
export function maeTable(byTarget: MaeCells, column: (t: string) => string = (t) => t): string[] {
  const targets = Object.keys(byTarget);
  const lines = [`| method | ${targets.map(column).join(' | ')} |`, `|---|${targets.map(() => '---').join('|')}|`];
  for (const m of METHODS) lines.push(`| ${METHOD_LABELS[m]} | ${targets.map((t) => fmt(byTarget[t]![m])).join(' | ')} |`);
  return lines;
}

/** One row per target (family sources, K = 3): MAE mean ± std over seeds of every method. */
export function summary(main: Record<string, Agg>, sourcesLabel: string): string[] {
  if (Object.keys(main).length === 0) return [];
  return [`## Summary: MAE (mean ± std over seeds), ${sourcesLabel}, K = 3`, '', ...maeTable(main), ''];
}

/** A method's label without its parenthesis: "GPD zero-shot", "Target-only". */
export const shortLabel = (m: Method) => METHOD_LABELS[m].split(' (')[0]!;

/**
 * Where GPD does and does not win, one line per target, stated from the numbers (no hand-written
 * claims): mean MAE of the headline setting, and in how many seeds, paired (within one seed every
 * method is scored on the same regions and windows).
 */
export function verdictLines(main: Record<string, Agg>, records: RunRecord[], variant = 'main'): string[] {
  const lines: string[] = [];
  for (const [t, agg] of Object.entries(main)) {
    const runs = records.filter((r) => r.target === t && isHeadline(r, variant));
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
  return lines;
}

export function verdicts(main: Record<string, Agg>, records: RunRecord[], sourcesLabel: string): string[] {
  return [`## Where GPD wins and where it does not (mean MAE, ${sourcesLabel}, K = 3; in how many seeds)`, '', ...verdictLines(main, records), ''];
}

/**
 * The methods the across-settings table leaves out: last value (far off everywhere), gpd_auto (derived
 * from two rows shown) and the untrained source-transfer and nearest-prompt vectors (no bar compares them).
 */
const SETTING_OMITTED: readonly Method[] = ['last', 'gpd_auto', 'source_transfer_zero_shot', 'nearest_prompt_zero_shot'];
/** The methods the across-settings table shows, in METHODS' order: the bars' comparisons and GPD's own rows. */
const SETTING_METHODS: readonly Method[] = METHODS.filter((m) => !SETTING_OMITTED.includes(m));
/**
 * The comparisons the bars make, one verdict column each. Columns rather than bold cells: bold
 * on two pairs in one row read as a comparison between the two bold cells (a bold fine-tuned GPD beside
 * a bold random init).
 */
const SETTING_VERDICTS: readonly { label: string; method: Method; rival: Method }[] = [
  { label: 'GPD < target-only', method: 'gpd', rival: 'target_only' },
  { label: 'GPD < seasonal', method: 'gpd', rival: 'seasonal_baseline' },
  { label: 'GPD < HA', method: 'gpd', rival: 'ha' },
  { label: 'zero-shot < random init', method: 'gpd_zero_shot', rival: 'random_init' },
  { label: 'zero-shot < untrained bank mean', method: 'gpd_zero_shot', rival: 'bank_mean_zero_shot' },
];

/**
 * Main-variant runs of every source set and K side by side, one row per (target, source set, K):
 * whether the picture of the K = 3 family table holds with more sources or fewer or more days. Each
 * row is a mean over the seeds that setting was run at (its seeds column); the family K = 3 row is
 * repeated over the seeds of its target's other settings, so every row has one on the same seeds.
 */
export function acrossSettings(records: RunRecord[]): string[] {
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
