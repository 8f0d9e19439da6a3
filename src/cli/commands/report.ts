import type { Command } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeReport } from '../../report/write.js';
import { UserError } from '../errors.js';

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('write <run>/report.html: one self-contained page (no network) with loss curves, per-horizon errors, predicted vs true series, error per region and the bank projection, each with its numbers')
    .argument('<run>', 'a run folder made by `gpd transfer` or `gpd demo`')
    .action(async (run: string) => {
      if (!existsSync(join(run, 'report-data.json'))) throw new UserError(`${run} has no report-data.json: is it a finished run folder of \`gpd transfer\`?`);
      console.log(`report: ${await writeReport(run)}`);
    });
  program
    .command('evaluate')
    .description('print the per-horizon MAE/RMSE of every method of a finished run (from its results.json)')
    .argument('<run>', 'a run folder made by `gpd transfer` or `gpd demo`')
    .option('--json', 'print results.json as is')
    .action((run: string, o: { json?: boolean }) => {
      const file = join(run, 'results.json');
      if (!existsSync(file)) throw new UserError(`${file} not found: run \`gpd transfer --out ${run}\` first (it resumes if interrupted)`);
      const r = JSON.parse(readFileSync(file, 'utf8')) as {
        target: string;
        methods: Record<string, { mae: number; rmse: number; maeByHorizon: number[]; rmseByHorizon: number[] }>;
        labels: Record<string, string>;
        regionsScored: number;
      };
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      const h = r.methods[Object.keys(r.methods)[0]!]!.maeByHorizon.length;
      const head = ['method'.padEnd(16), ...Array.from({ length: h }, (_, i) => `MAE@${i + 1}`.padStart(8)), 'MAE'.padStart(8), 'RMSE'.padStart(8)].join(' ');
      console.log(`target ${r.target}, ${r.regionsScored} regions`);
      console.log(head);
      for (const [m, s] of Object.entries(r.methods)) {
        console.log([m.padEnd(16), ...s.maeByHorizon.map((v) => v.toFixed(3).padStart(8)), s.mae.toFixed(3).padStart(8), s.rmse.toFixed(3).padStart(8)].join(' '));
      }
    });
}
