/** Plain-text results table for the terminal (the markdown/JSON tables live in experiments/). */
import { METHODS, METHOD_LABELS } from './evaluate.js';
import type { TransferResult } from './pipeline.js';

export function formatResultsTable(r: TransferResult): string {
  const shown = METHODS.filter((m) => r.methods[m]);
  const width = Math.max(6, ...shown.map((m) => METHOD_LABELS[m].length));
  const rows = shown.map((m) => {
    const s = r.methods[m]!;
    return `${METHOD_LABELS[m].padEnd(width)} ${s.mae.toFixed(4).padStart(9)} ${s.rmse.toFixed(4).padStart(9)}`;
  });
  return [
    `target ${r.target} (${r.regions.length} regions scored), sources ${r.sources.join(', ')}; ${r.wallSeconds.toFixed(0)} s`,
    `${'method'.padEnd(width)} ${'MAE'.padStart(9)} ${'RMSE'.padStart(9)}`,
    ...rows,
  ].join('\n');
}
