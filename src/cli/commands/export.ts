import type { Command } from 'commander';
import { Option } from 'commander';
import { exportRun } from '../../transfer/export.js';
import { GPD_AUTO } from '../../transfer/forecast.js';
import { MODEL_METHODS } from '../../transfer/evaluate.js';

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description(
      "write every scored region's model of a finished run as safetensors with the reference PyTorch implementation's parameter names, " +
        'plus a JSON model card per city (model and layout, regions and subgraphs, normalisation, seasonal baseline, training data range, metrics, how to load)',
    )
    .requiredOption('--run <dir>', 'a finished run folder of `gpd transfer` or `gpd demo`')
    .requiredOption('--out <dir>', 'folder to write <city>/model-card.json and <city>/regions/*.safetensors into')
    .addOption(new Option('--method <name>', `which models (default gpd: fine-tuned GPD; ${GPD_AUTO}: per region fine-tuned or zero-shot by the few-shot validation score)`).choices([...MODEL_METHODS, GPD_AUTO]))
    .action((o: { run: string; out: string; method?: string }) => {
      const r = exportRun(o.run, o.out, o.method ? { method: o.method } : {});
      console.log(`wrote ${r.files.length} region models (${r.method}) and ${r.card}`);
    });
}
