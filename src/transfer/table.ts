/** Plain-text results table for the terminal (the markdown/JSON tables live in experiments/). */
import { METHODS, METHOD_LABELS } from './evaluate.js';
import type { TransferResult } from './pipeline.js';

export function formatResultsTable(r: TransferResult): string {
  const rows = METHODS.filter((m) => r.methods[m]).map((m) => {
    const s = r.methods[m]!;
    return `${METHOD_LABELS[m].padEnd(44)} ${s.mae.toFixed(4).padStart(9)} ${s.rmse.toFixed(4).padStart(9)}`;
  });
  return [
    `target ${r.target} (${r.regions.length} regions scored), sources ${r.sources.join(', ')}; ${r.wallSeconds.toFixed(0)} s`,
    `${'method'.padEnd(44)} ${'MAE'.padStart(9)} ${'RMSE'.padStart(9)}`,
    ...rows,
  ].join('\n');
}
