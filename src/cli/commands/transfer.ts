import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { runTransfer } from '../../transfer/pipeline.js';
import { writeReport } from '../../report/write.js';
import { ProgressRenderer } from '../progress.js';
import { collectSet } from './config.js';
import { withInterrupt } from '../interrupt.js';
import { formatResultsTable } from '../../transfer/table.js';

export function registerTransferCommands(program: Command): void {
  program
    .command('transfer')
    .description(
      'run the whole GPD pipeline: bank on the source cities -> prompts -> diffusion training -> ' +
        'one generated model per target region -> zero-shot and fine-tuned evaluation against the ' +
        'baselines -> report. Everything lands in a resumable run folder: rerun the same command to resume.',
    )
    .option('-c, --config <file>', 'JSON or YAML config file (see `gpd config schema`)')
    .option('--set <key=value>', 'override one setting, e.g. --set data.target=cities/la-loop.city.json (repeatable)', collectSet, [])
    .option('-o, --out <dir>', 'run folder', 'runs/transfer')
    .option('--no-report', 'skip writing report.html')
    .action(async (opts: { config?: string; set: string[]; out: string; report: boolean }) => {
      const config = loadConfig(opts.config, opts.set);
      const renderer = new ProgressRenderer();
      const command = ['gpd', ...process.argv.slice(2)].join(' ');
      const result = await withInterrupt((signal) =>
        runTransfer({ config, runDir: opts.out, command, signal, onProgress: renderer.onProgress, log: (m) => renderer.log(m) }),
      );
      renderer.done();
      console.log(formatResultsTable(result));
      if (opts.report) console.log(`report: ${await writeReport(result.runDir)}`);
    });
}
