import type { Command } from 'commander';
import { Option } from 'commander';
import { resolveCities } from '../../data/resolve.js';
import { buildBank } from '../../bank/build.js';
import { inspectBank, formatBankInspect } from '../../bank/inspect.js';
import { BankConfig, DataConfig } from '../../config/schema.js';
import { ProgressRenderer } from '../progress.js';
import { withInterrupt } from '../interrupt.js';
import { int, num } from '../options.js';
import { BASELINE_KINDS, type BaselineKind } from '../../data/encoding.js';

const D = BankConfig.parse({});

export function registerBankCommands(program: Command): void {
  const bank = program.command('bank').description('build and inspect parameter banks (one trained forecaster per source region)');
  bank
    .command('build')
    .description(
      'train one forecaster per region of each source city on its neighbourhood subgraph and store the ' +
        'flattened parameters (safetensors + index.json). Interrupted builds resume: rerun the same command.',
    )
    .requiredOption('--city <ref...>', 'source cities: *.city.json manifests, folders with city.json, or synthetic[:<id>]')
    .option('-o, --out <dir>', 'bank folder', 'runs/bank')
    .addOption(new Option('--model <name>', 'base forecaster').choices(['stgcn', 'gwn']).default(D.model))
    .option('--epochs <n>', 'maximum training epochs per region', int('epochs'), D.epochs)
    .option('--batch-size <n>', 'mini-batch size', int('batch-size'), D.batchSize)
    .option('--lr <x>', 'Adam learning rate', num('lr'), D.lr)
    .option('--weight-decay <x>', 'Adam L2 weight decay', num('weight-decay'), D.weightDecay)
    .option('--patience <n>', 'early stopping: epochs without validation improvement', int('patience'), D.patience)
    .addOption(new Option('--init <kind>', 'random: independent init per region (GPD); warm: start every region from one shared model (FNFM)').choices(['random', 'warm']).default(D.init))
    .option('--shared-epochs <n>', 'epochs of the shared model (warm init)', int('shared-epochs'), D.sharedEpochs)
    .option('--group-size <n>', 'regions per job handed to a worker', int('group-size'), D.groupSize)
    .option('--workers <n>', 'worker threads (0 = main thread)', int('workers'), D.workers)
    .option('--max-regions <n>', 'only the first n regions of each city (quick runs)', int('max-regions'))
    .option('--feature <n>', 'series channel to forecast (e.g. 0 = inflow of nyc-bike-grid)', int('feature'), 0)
    .addOption(new Option('--baseline <kind>', 'value encoding: seasonal-ar = the network corrects a smoothed daily profile plus damped persistence; seasonal = the profile only; none = raw z-scores (the reference)').choices([...BASELINE_KINDS]).default(DataConfig.parse({}).baseline))
    .option('--encoding-fit-days <n>', "fit the encoding on sliding blocks of n days, each forecasting the next day (a target's K-day regime); default: the whole training part", int('encoding-fit-days'))
    .option('--seed <n>', 'random seed', int('seed'), 1)
    .action(async (o: Record<string, unknown>) => {
      const cities = (o.city as string[]).flatMap((r) => resolveCities(r));
      const renderer = new ProgressRenderer();
      const res = await withInterrupt((signal) =>
        buildBank({
          cities,
          model: o.model as 'stgcn' | 'gwn',
          epochs: o.epochs as number,
          batchSize: o.batchSize as number,
          lr: o.lr as number,
          weightDecay: o.weightDecay as number,
          patience: o.patience as number,
          init: o.init as 'random' | 'warm',
          sharedEpochs: o.sharedEpochs as number,
          groupSize: o.groupSize as number,
          workers: o.workers as number,
          seed: o.seed as number,
          feature: o.feature as number,
          baseline: o.baseline as BaselineKind,
          out: o.out as string,
          ...(o.maxRegions !== undefined ? { maxRegions: o.maxRegions as number } : {}),
          ...(o.encodingFitDays !== undefined ? { encodingFitDays: o.encodingFitDays as number } : {}),
          signal,
          onProgress: renderer.onProgress,
          onWarning: (m) => renderer.log(`warning: ${m}`),
        }),
      );
      renderer.done();
      console.log(`bank: ${res.dir} (${res.trained} regions trained, ${res.skipped} already done, ${(res.ms / 1000).toFixed(1)} s)`);
    });
  bank
    .command('inspect')
    .description('summarise a bank: regions per city, validation MAE distribution, parameter statistics, share beating the historical average')
    .argument('<dir>', 'bank folder')
    .option('--json', 'print the summary as JSON')
    .action((dir: string, o: { json?: boolean }) => {
      const s = inspectBank(dir);
      console.log(o.json ? JSON.stringify(s, null, 2) : formatBankInspect(s));
    });
}
