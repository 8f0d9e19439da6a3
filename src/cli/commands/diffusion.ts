import type { Command } from 'commander';
import { Option } from 'commander';
import { loadConfig } from '../../config/load.js';
import { resolveCities, resolveCity } from '../../data/resolve.js';
import { trainGeneratorFromBank, sampleForCity } from '../../transfer/stages.js';
import { SamplingConfig } from '../../config/schema.js';
import { ProgressRenderer } from '../progress.js';
import { withInterrupt } from '../interrupt.js';
import { collectSet } from './config.js';
import { int, num } from '../options.js';
import { syntheticDefaultsOf } from '../../transfer/pipeline.js';

const S = SamplingConfig.parse({});

export function registerDiffusionCommands(program: Command): void {
  const diffusion = program.command('diffusion').description('train a conditional diffusion generator on a bank, and sample forecasters from it');
  diffusion
    .command('train')
    .description(
      'train the Transformer denoiser on a bank\'s parameter vectors conditioned on region prompts; selection ' +
        'uses held-out source regions only. Settings come from the `diffusion` and `prompts` config sections.',
    )
    .requiredOption('--bank <dir>', 'bank folder (gpd bank build)')
    .requiredOption('--city <ref...>', 'the bank\'s source cities (to build their prompts)')
    .option('-o, --out <dir>', 'generator folder', 'runs/generator')
    .option('-c, --config <file>', 'JSON or YAML config file')
    .option('--set <key=value>', 'override one setting, e.g. --set diffusion.steps=500 (repeatable)', collectSet, [])
    .action(async (o: { bank: string; city: string[]; out: string; config?: string; set: string[] }) => {
      const config = loadConfig(o.config, o.set);
      const sources = o.city.flatMap((r) => resolveCities(r, syntheticDefaultsOf(config)));
      const renderer = new ProgressRenderer();
      await withInterrupt((signal) => trainGeneratorFromBank({ bankDir: o.bank, sources, config, out: o.out, signal, onProgress: renderer.onProgress }));
      renderer.done();
      console.log(`generator: ${o.out}`);
    });
  diffusion
    .command('sample')
    .description('generate one forecaster per region of a city from its few-shot days (prompts built with the generator\'s own prompt spec)')
    .requiredOption('--generator <dir>', 'generator folder (gpd diffusion train)')
    .requiredOption('--city <ref>', 'target city')
    .option('-o, --out <file>', 'output safetensors file (an index .json is written beside it)', 'runs/generated.safetensors')
    .option('--k-days <n>', 'few-shot days before the test period whose data build the prompts', int('k-days'), 3)
    .addOption(new Option('--sampler <name>', 'denoising sampler: ddpm/ddim for Gaussian generators, euler/heun for flow matching').choices(['ddpm', 'ddim', 'euler', 'heun']).default(S.sampler))
    .option('--steps <n>', 'sampler steps (DDIM/Euler/Heun; DDPM always runs all T)', int('steps'), S.steps)
    .option('--eta <x>', 'DDIM stochasticity (0 = deterministic)', num('eta'), S.eta)
    .option('--guidance <x>', 'classifier-free guidance scale (1 = plain conditional)', num('guidance'), S.guidance)
    .option('--seed <n>', 'random seed', int('seed'), 1)
    .action(async (o: { generator: string; city: string; out: string; kDays: number; sampler: 'ddpm' | 'ddim' | 'euler' | 'heun'; steps: number; eta: number; guidance: number; seed: number }) => {
      const sampling = SamplingConfig.parse({ sampler: o.sampler, steps: o.steps, eta: o.eta, guidance: o.guidance });
      const renderer = new ProgressRenderer();
      const r = await sampleForCity({ generatorDir: o.generator, city: resolveCity(o.city), kDays: o.kDays, sampling, seed: o.seed, out: o.out, onProgress: renderer.onProgress });
      renderer.done();
      console.log(`generated ${r.count} models in ${(r.ms / 1000).toFixed(1)} s: ${r.file}`);
    });
}
