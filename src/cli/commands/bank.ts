import type { Command } from 'commander';
import { EncodingConfig } from '../../data/encoding.js';
import { buildBank } from '../../bank/build.js';
import { BankConfig } from '../../bank/config.js';
import { inspectBank, formatBankInspect } from '../../bank/inspect.js';
import { loadConfig } from '../../config/load.js';
import { resolveSources } from '../../config/cities.js';
import { ProgressRenderer } from '../progress.js';
import { withInterrupt } from '../interrupt.js';
import { UserError } from '../errors.js';
import { addConfigFileOptions, addConfigFlags, configOverrides, type SectionFlags } from '../config-options.js';
import { addClusterOptions, withJobEngine, type ClusterFlags } from '../cluster-options.js';

/** Where `gpd bank build` writes when neither --bank nor bank.dir names a folder. */
const DEFAULT_BANK_DIR = 'runs/bank';

/** bank.* as flags (bank.dir is --bank; the seed is the top-level --seed), and data.feature / data.baseline. */
const FLAGS: SectionFlags[] = [
  { section: 'bank', schema: BankConfig, exclude: ['dir', 'seed'] },
  { section: 'data', schema: EncodingConfig },
  { section: '', schema: BankConfig.pick({ seed: true }) },
];

export function registerBankCommands(program: Command): void {
  const bank = program.command('bank').description('build and inspect parameter banks (one trained forecaster per source region)');
  const build = bank
    .command('build')
    .description(
      'train one forecaster per region of each source city on its neighbourhood subgraph and store the ' +
        'flattened parameters (safetensors + index.json). Settings: the `bank` section of the config (-c, --set) ' +
        'or the flags below. Interrupted builds resume: rerun the same command.',
    )
    .option('--city <ref...>', 'source cities: *.city.json manifests, folders with city.json, or synthetic[:<id>] (data.sources)')
    .option('--bank <dir>', `the bank folder (bank.dir; default ${DEFAULT_BANK_DIR})`);
  addClusterOptions(addConfigFileOptions(addConfigFlags(build, ...FLAGS))).action(async (o: Record<string, unknown>) => {
    const overrides = [
      ...(o.city ? [`data.sources=${JSON.stringify(o.city)}`] : []),
      ...(o.bank ? [`bank.dir=${JSON.stringify(o.bank)}`] : []),
      ...configOverrides(o, ...FLAGS),
      ...(o.set as string[]),
    ];
    const cfg = loadConfig(o.config as string | undefined, overrides);
    if (!o.city && !o.config && !(o.set as string[]).some((s) => s.startsWith('data.sources='))) {
      throw new UserError('bank build needs source cities: --city <ref...> (or data.sources in the config)');
    }
    const cities = resolveSources(cfg);
    const renderer = new ProgressRenderer();
    const res = await withJobEngine(o as ClusterFlags, (m) => renderer.log(m), (engine) =>
      withInterrupt((signal) =>
        buildBank({
          ...cfg.bank,
          cities,
          dir: cfg.bank.dir ?? DEFAULT_BANK_DIR,
          seed: cfg.bank.seed ?? cfg.seed,
          feature: cfg.data.feature,
          baseline: cfg.data.baseline,
          signal,
          onProgress: renderer.onProgress,
          onWarning: (m) => renderer.log(`warning: ${m}`),
          ...(engine ? { engine } : {}),
        }),
      ),
    );
    renderer.done();
    if (!res) return;
    console.log(`bank: ${res.dir} (${res.trained} regions trained, ${res.skipped} already done, ${(res.ms / 1000).toFixed(1)} s)`);
  });
  bank
    .command('inspect')
    .description('summarise a bank: regions per city, validation MAE distribution, parameter statistics, share beating the historical average')
    .argument('[bank]', 'the bank folder (the same as --bank)')
    .option('--bank <dir>', 'the bank folder')
    .option('--json', 'print the summary as JSON')
    .action((dir: string | undefined, o: { bank?: string; json?: boolean }) => {
      const folder = o.bank ?? dir;
      if (!folder) throw new UserError('bank inspect needs the bank folder: gpd bank inspect --bank <dir>');
      const s = inspectBank(folder);
      console.log(o.json ? JSON.stringify(s, null, 2) : formatBankInspect(s));
    });
}
