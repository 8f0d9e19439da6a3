import type { Command } from 'commander';
import { resolve } from 'node:path';
import { loadConfig } from '../../config/load.js';
import { runTransfer } from '../../transfer/pipeline.js';
import { writeRunReport } from '../../report/write.js';
import { formatResultsTable } from '../../transfer/table.js';
import { ProgressRenderer, formatDuration } from '../progress.js';
import { withInterrupt } from '../interrupt.js';
import { addConfigFileOptions } from '../config-options.js';
import { commandLine } from '../command-line.js';

/**
 * The embedded demo: three synthetic source cities -> the held-out synthetic city `synth-d`.
 * Sized to finish in a few minutes on 2 cores; every setting can still be changed with --set.
 */
export const DEMO_SETTINGS: string[] = [
  'data.sources=["synthetic:synth-a","synthetic:synth-b","synthetic:synth-c"]',
  'data.target=synthetic:synth-d',
];

export function registerDemoCommand(program: Command): void {
  const demo = program
    .command('demo')
    .description(
      'the main job on the embedded default: build a bank on three synthetic source cities, train the ' +
        'generator, generate models for the held-out synthetic target, fine-tune, compare with every ' +
        'baseline and write the HTML report. Needs nothing but this repository. Resumable.',
    )
    .option('-o, --out <dir>', 'run folder', 'runs/demo');
  addConfigFileOptions(demo, 'diffusion.steps=200').action(async (o: { out: string; config?: string; set: string[] }) => {
      const t0 = performance.now();
      const config = loadConfig(o.config, [...DEMO_SETTINGS, ...o.set]);
      const renderer = new ProgressRenderer();
      renderer.log(`gpd demo: synthetic sources ${config.data.sources.join(', ')} -> ${config.data.target}; run folder ${resolve(o.out)}`);
      const result = await withInterrupt((signal) =>
        runTransfer({ config, runDir: o.out, command: commandLine(), signal, onProgress: renderer.onProgress, log: (m) => renderer.log(m) }),
      );
      renderer.done();
      console.log(formatResultsTable(result));
      const report = await writeRunReport(result.runDir);
      console.log(`wall time: ${formatDuration((performance.now() - t0) / 1000)}`);
      console.log(`report: ${report}`);
    });
}
