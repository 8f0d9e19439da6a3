/**
 * When the experiments command may replace results/results.json, the checked summary of the main
 * setting. A run into any results/ folder rewrites it, so a small one (one target, one seed, a trial
 * budget) would silently replace the committed four-city summary with a thinner one. It is replaced
 * only when the new summary covers every target the current one holds. The Graph WaveNet summary
 * (results/results-gwn.json, same layout) follows the same rule.
 */
export type CheckedSummary = Record<string, Record<string, { mae: number; rmse: number; mae_std: number }>>;

/** null: write it; otherwise why not (names the targets the new summary would drop). */
export function summaryReplacementBlocked(current: CheckedSummary | null, next: CheckedSummary, file = 'results/results.json'): string | null {
  if (!current) return null;
  const missing = Object.keys(current).filter((t) => !(t in next));
  if (missing.length === 0) return null;
  return `${file} not updated: it holds ${missing.join(', ')}, which this folder's main setting (family sources, K = 3) lacks; run those targets into the same --out folder, or delete ${file} to start a new summary`;
}

/** The checked summary's rows of a headline aggregate: MAE, RMSE and the std of MAE per target and method. */
export function checkedSummaryOf(main: Record<string, Partial<Record<string, { mae: number; rmse: number; mae_std: number }>>>): CheckedSummary {
  const out: CheckedSummary = {};
  for (const [t, agg] of Object.entries(main)) {
    out[t] = {};
    for (const [m, a] of Object.entries(agg)) out[t][m] = { mae: a!.mae, rmse: a!.rmse, mae_std: a!.mae_std };
  }
  return out;
}
