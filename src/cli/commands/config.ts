import type { Command } from 'commander';
import { configJsonSchema } from '../../config/schema.js';
import { loadConfig } from '../../config/load.js';
import { addConfigFileOptions } from '../config-options.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('show the resolved configuration or its JSON Schema');
  addConfigFileOptions(config.command('show').description('print the configuration after defaults, the config file and --set overrides'))
    .action((opts: { config?: string; set: string[] }) => {
      console.log(JSON.stringify(loadConfig(opts.config, opts.set), null, 2));
    });
  config
    .command('schema')
    .description('print the JSON Schema of config files (point your editor at it)')
    .action(() => {
      console.log(JSON.stringify(configJsonSchema(), null, 2));
    });
}
