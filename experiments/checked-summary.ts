/**
 * When the experiments command may replace results/results.json, the checked summary of the main
 * setting. A run into any results/ folder rewrites it, so a small one (one target, one seed, a trial
 * budget) would silently replace the committed four-city summary with a thinner one. It is replaced
 * only when the new summary covers every target the current one holds.
 */
export type CheckedSummary = Record<string, Record<string, { mae: number; rmse: number; mae_std: number }>>;

/** null: write it; otherwise why not (names the targets the new summary would drop). */
export function summaryReplacementBlocked(current: CheckedSummary | null, next: CheckedSummary): string | null {
  if (!current) return null;
  const missing = Object.keys(current).filter((t) => !(t in next));
  if (missing.length === 0) return null;
  return `results/results.json not updated: it holds ${missing.join(', ')}, which this folder's main setting (family sources, K = 3) lacks; run those targets into the same --out folder, or delete results/results.json to start a new summary`;
}
