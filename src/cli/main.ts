/**
 * The `gpd` command line. Each command is a thin layer over the library stage of the same name:
 * it parses options into typed library options, renders progress, and turns known errors into
 * messages a user can act on (exit code 2) instead of stack traces.
 */
import { Command, CommanderError, Option } from 'commander';
import { registerDataCommands } from './commands/data.js';
import { registerConfigCommands } from './commands/config.js';
import { registerTransferCommands } from './commands/transfer.js';
import { registerBankCommands } from './commands/bank.js';
import { registerDiffusionCommands } from './commands/diffusion.js';
import { registerReportCommands } from './commands/report.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerForecastCommand } from './commands/forecast.js';
import { registerServeCommand } from './commands/serve.js';
import { registerExportCommand } from './commands/export.js';
import { registerWorkerCommand } from './commands/worker.js';
import { reportCliError } from './errors.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('gpd')
    .description(
      'Spatio-temporal few-shot learning by diffusive neural network generation (GPD, ICLR 2024). ' +
        'Pretrain per-region forecasters on source cities, train a diffusion model over their parameters, ' +
        'and generate forecasters for a target city that has only a few days of data.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors come back to runCli as CommanderErrors (commands created below inherit this).
    .exitOverride()
    .addOption(new Option('--backend <name>', 'tensor backend (default: tensorflow if @tensorflow/tfjs-node is installed, else wasm)').choices(['wasm', 'cpu', 'tensorflow']))
    .hook('preAction', (cmd) => {
      const backend = cmd.opts().backend as string | undefined;
      if (backend) process.env.GPD_BACKEND = backend;
    });
  registerDemoCommand(program);
  registerDataCommands(program);
  registerBankCommands(program);
  registerDiffusionCommands(program);
  registerTransferCommands(program);
  registerReportCommands(program);
  registerForecastCommand(program);
  registerServeCommand(program);
  registerExportCommand(program);
  registerConfigCommands(program);
  registerWorkerCommand(program);
  return program;
}

/** Run one command line (`argv` as process.argv: node, script, args...); resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    // Commander has printed its message (or the help): --help and --version end well, a usage
    // error (unknown option, missing argument) is a user error.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    return reportCliError(err);
  }
}

const isMain = process.argv[1] !== undefined && /(?:gpd(?:\.js)?|main\.ts)$/.test(process.argv[1]);
if (isMain) {
  void runCli(process.argv).then((code) => {
    process.exitCode = code;
  });
}
