import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { DataConfig, GpdConfig, SamplingConfig } from '../../config/schema.js';
import { resolveCities, resolveCity } from '../../data/resolve.js';
import { trainGeneratorFromBank, sampleForCity } from '../../transfer/stages.js';
import { syntheticDefaultsOf } from '../../data/resolve.js';
import { ProgressRenderer } from '../progress.js';
import { withInterrupt } from '../interrupt.js';
import { UserError } from '../errors.js';
import { addConfigFileOptions, addConfigFlags, configOverrides, type SectionFlags } from '../config-options.js';

/** sampling.* as flags, data.kDays as --k-days and the run's --seed. */
const SAMPLE_FLAGS: SectionFlags[] = [
  { section: 'sampling', schema: SamplingConfig },
  { section: 'data', schema: DataConfig, only: ['kDays'] },
  { section: '', schema: GpdConfig, only: ['seed'] },
];

export function registerDiffusionCommands(program: Command): void {
  const diffusion = program.command('diffusion').description('train a conditional diffusion generator on a bank, and sample forecasters from it');
  const train = diffusion
    .command('train')
    .description(
      "train the Transformer denoiser on a bank's parameter vectors conditioned on region prompts; selection " +
        'uses held-out source regions only. Settings come from the `diffusion` and `prompts` config sections.',
    )
    .option('--bank <dir>', 'the bank folder (bank.dir; made by gpd bank build)')
    .requiredOption('--city <ref...>', "the bank's source cities (to build their prompts)")
    .option('-o, --out <dir>', 'generator folder', 'runs/generator');
  addConfigFileOptions(train, 'diffusion.steps=500').action(async (o: { bank?: string; city: string[]; out: string; config?: string; set: string[] }) => {
    const config = loadConfig(o.config, [...(o.bank ? [`bank.dir=${JSON.stringify(o.bank)}`] : []), ...o.set]);
    if (!config.bank.dir) throw new UserError('diffusion train needs the bank folder: --bank <dir> (or bank.dir in the config)');
    const sources = o.city.flatMap((r) => resolveCities(r, syntheticDefaultsOf(config.data)));
    const renderer = new ProgressRenderer();
    await withInterrupt((signal) => trainGeneratorFromBank({ bankDir: config.bank.dir!, sources, config, out: o.out, signal, onProgress: renderer.onProgress }));
    renderer.done();
    console.log(`generator: ${o.out}`);
  });
  const sample = diffusion
    .command('sample')
    .description("generate one forecaster per region of a city from its few-shot days (prompts built with the generator's own prompt spec)")
    .requiredOption('--generator <dir>', 'generator folder (gpd diffusion train)')
    .requiredOption('--city <ref>', 'target city')
    .option('-o, --out <file>', 'output safetensors file (an index .json is written beside it)', 'runs/generated.safetensors');
  addConfigFileOptions(addConfigFlags(sample, ...SAMPLE_FLAGS), 'sampling.guidance=1').action(async (o: Record<string, unknown>) => {
    const config = loadConfig(o.config as string | undefined, [...configOverrides(o, ...SAMPLE_FLAGS), ...(o.set as string[])]);
    const renderer = new ProgressRenderer();
    const r = await sampleForCity({
      generatorDir: o.generator as string,
      city: resolveCity(o.city as string, syntheticDefaultsOf(config.data)),
      kDays: config.data.kDays,
      sampling: config.sampling,
      seed: config.seed,
      out: o.out as string,
      feature: config.data.feature,
      holdout: config.finetune.holdout,
      onProgress: renderer.onProgress,
    });
    renderer.done();
    console.log(`generated ${r.count} models in ${(r.ms / 1000).toFixed(1)} s (output scale ${r.outputScale}): ${r.file}`);
  });
}
