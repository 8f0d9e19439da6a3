/**
 * Where a bank build's time went, from the banks an experiments folder built:
 *
 *   node --import tsx experiments/bank-load.ts results/<date>
 *
 * Per bank: regions, the shared model's training time, the sum of the regions' training and total
 * times (what the workers spent), the regions' mean windows per second, and the wall time between the
 * bank's first and last region files (regions per minute of wall time; with 2 workers the sum of
 * region times is about twice the wall time). Reads index.json and the region files' timestamps only.
 */
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readIndex } from '../src/bank/store.js';

const folder = resolve(process.argv[2] ?? '');
const banksDir = join(folder, 'banks');
if (!existsSync(banksDir)) {
  console.error(`usage: node --import tsx experiments/bank-load.ts <experiments folder with banks/>`);
  process.exit(2);
}
const fmt = (ms: number) => `${(ms / 60000).toFixed(1)} min`;
console.log('| bank | source cities | model | regions | shared model | region training (sum) | region total (sum) | wall, first to last region | regions / min (wall) | mean epochs run |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const name of readdirSync(banksDir).sort()) {
  const dir = join(banksDir, name);
  if (!existsSync(join(dir, 'index.json'))) continue;
  const idx = readIndex(dir);
  const entries = idx.entries;
  if (entries.length === 0) continue;
  const train = entries.reduce((a, e) => a + e.timings.trainMs, 0);
  const total = entries.reduce((a, e) => a + e.timings.totalMs, 0);
  const times = entries.map((e) => statSync(join(dir, e.file)).mtimeMs).sort((a, b) => a - b);
  // The first region file is written when its region ends: add that region's own time to the span.
  const wall = times[times.length - 1]! - times[0]! + entries[0]!.timings.totalMs;
  const epochs = entries.reduce((a, e) => a + e.epochsRun, 0) / entries.length;
  const shared = idx.shared ? fmt(idx.shared.timings.trainMs) : '-';
  console.log(`| ${name} | ${idx.cities.map((c) => c.id).join(', ')} | ${idx.settings.model} | ${entries.length}${idx.complete ? '' : ' (incomplete)'} | ${shared} | ${fmt(train)} | ${fmt(total)} | ${fmt(wall)} | ${(entries.length / (wall / 60000)).toFixed(1)} | ${epochs.toFixed(1)} |`);
}
