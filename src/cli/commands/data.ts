import type { Command } from 'commander';
import { resolveCities } from '../../data/resolve.js';
import { inspectCity, formatInspect } from '../../data/inspect.js';

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('inspect city datasets');
  data
    .command('inspect')
    .description(
      'print a city\'s size and quality figures: nodes, steps, interval, missing share, graph density, ' +
        'degree stats and per-feature mean/std',
    )
    .argument('<city...>', 'a *.city.json manifest, a folder containing city.json, or synthetic[:<id>] for the embedded generator')
    .option('--json', 'print the figures as JSON')
    .action((refs: string[], opts: { json?: boolean }) => {
      const reports = refs.flatMap((ref) => resolveCities(ref).map((c) => inspectCity(c)));
      if (opts.json) console.log(JSON.stringify(reports, null, 2));
      else console.log(reports.map((r) => formatInspect(r)).join('\n\n'));
    });
}
