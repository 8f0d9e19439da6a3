import type { Command } from 'commander';
import { writeRunReport } from '../../report/write.js';
import { RunFolder } from '../../transfer/run-folder.js';

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('write <run>/report.html: one self-contained page (no network) with loss curves, per-horizon errors, predicted vs true series, error per region and the bank projection, each with its numbers')
    .argument('<run>', 'a finished run folder of `gpd transfer`, `gpd demo` or the experiments')
    .action(async (run: string) => {
      console.log(`report: ${await writeRunReport(run)}`);
    });
  program
    .command('evaluate')
    .description('print the per-horizon MAE/RMSE of every method of a finished run (from its results.json)')
    .argument('<run>', 'a run folder made by `gpd transfer` or `gpd demo`')
    .option('--json', 'print results.json as is')
    .action((run: string, o: { json?: boolean }) => {
      const r = new RunFolder(run).readResults();
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      const h = Object.values(r.methods)[0]?.maeByHorizon.length ?? 0;
      const head = ['method'.padEnd(16), ...Array.from({ length: h }, (_, i) => `MAE@${i + 1}`.padStart(8)), 'MAE'.padStart(8), 'RMSE'.padStart(8)].join(' ');
      console.log(`target ${r.target}, ${r.regionsScored} regions`);
      console.log(head);
      for (const [m, s] of Object.entries(r.methods)) {
        console.log([m.padEnd(16), ...s.maeByHorizon.map((v) => v.toFixed(3).padStart(8)), s.mae.toFixed(3).padStart(8), s.rmse.toFixed(3).padStart(8)].join(' '));
      }
    });
}
