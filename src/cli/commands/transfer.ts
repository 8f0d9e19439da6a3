import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { runTransfer } from '../../transfer/pipeline.js';
import { writeRunReport } from '../../report/write.js';
import { ProgressRenderer } from '../progress.js';
import { addConfigFileOptions } from '../config-options.js';
import { withInterrupt } from '../interrupt.js';
import { formatResultsTable } from '../../transfer/table.js';
import { addClusterOptions, safeCommandLine, withJobEngine, type ClusterFlags } from '../cluster-options.js';
import { commandLine } from '../command-line.js';

export function registerTransferCommands(program: Command): void {
  const transfer = program
    .command('transfer')
    .description(
      'run the whole GPD pipeline: bank on the source cities -> prompts -> diffusion training -> ' +
        'one generated model per target region -> zero-shot and fine-tuned evaluation against the ' +
        'baselines -> report. Everything lands in a resumable run folder: rerun the same command to resume.',
    )
    .option('-o, --out <dir>', 'run folder', 'runs/transfer')
    .option('--no-report', 'skip writing report.html');
  addClusterOptions(addConfigFileOptions(transfer, 'data.target=cities/la-loop.city.json')).action(async (opts: { config?: string; set: string[]; out: string; report: boolean } & ClusterFlags) => {
      const config = loadConfig(opts.config, opts.set);
      const renderer = new ProgressRenderer();
      const result = await withJobEngine(opts, (m) => renderer.log(m), (engine, target) =>
        withInterrupt((signal) =>
          runTransfer({
            config,
            runDir: opts.out,
            command: safeCommandLine(commandLine(), target),
            signal,
            onProgress: renderer.onProgress,
            log: (m) => renderer.log(m),
            ...(engine ? { engine } : {}),
          }),
        ),
      );
      renderer.done();
      if (!result) return;
      console.log(formatResultsTable(result));
      if (opts.report) console.log(`report: ${await writeRunReport(result.runDir)}`);
    });
}
