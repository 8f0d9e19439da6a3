/**
 * Zero-shot error of a finished run's generator at other classifier-free guidance scales, without
 * retraining anything: the generator, prompts and shared model are copied into a sibling run folder per
 * scale (`<run>-guidance-<g>`), and only the methods without gradient steps (zero-shot, untrained and calibrated) are scored there.
 *
 *   node --import tsx experiments/guidance.ts results/2026-12-02/runs/la-loop__family__k3__s1__main 0 1 3
 */
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { runTransfer, RunFolder, type GpdConfig, type Method } from '../src/index.js';

const [run, ...scales] = process.argv.slice(2);
if (!run || scales.length === 0 || scales.some((g) => !Number.isFinite(Number(g)) || Number(g) < 0)) {
  console.error('usage: node --import tsx experiments/guidance.ts <finished run folder> <guidance> [<guidance> ...]');
  process.exit(2);
}
const src = resolve(run);
const source = new RunFolder(src);
if (!source.has('generator') || !source.has('config')) {
  console.error(`${src}: not a run folder with a trained generator (no generator/ or config.json)`);
  process.exit(2);
}
const saved = source.readConfig();
for (const g of scales.map(Number)) {
  const dir = `${src}-guidance-${g}`;
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    const copy = new RunFolder(dir);
    for (const f of ['generator', 'promptSpec', 'shared'] as const) if (source.has(f)) cpSync(source.path(f), copy.path(f), { recursive: true });
  }
  const config: GpdConfig = { ...saved.config, sampling: { ...saved.config.sampling, guidance: g } };
  const r = await runTransfer({ config, runDir: dir, methods: ['gpd_zero_shot', 'random_init', 'bank_mean_zero_shot', 'gpd_calibrated', 'random_init_calibrated'] });
  const f = (m: Method) => r.methods[m]!.mae.toFixed(3);
  console.log(`guidance ${g}: gpd-zero-shot ${f('gpd_zero_shot')} random-init ${f('random_init')} bank-mean-zero-shot ${f('bank_mean_zero_shot')} gpd-calibrated ${f('gpd_calibrated')} random-init-calibrated ${f('random_init_calibrated')}`);
}
