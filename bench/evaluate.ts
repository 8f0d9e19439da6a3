/**
 * Evaluation benchmark (npm run bench:evaluate): `gpd transfer`'s evaluation stage (every method
 * fine-tuned and scored per target region, transfer/evaluate.ts) one region at a time in the main
 * thread against the local pool of 2 worker threads (bank.workers, the default), on the demo's
 * target size and fine-tuning settings, in interleaved rounds; both must write the same files.
 *
 * Process CPU time (every thread's) is printed beside the wall times: on a machine that other work
 * keeps busy the wall-time ratio says little, while pool CPU over sequential CPU is what the pool
 * adds (thread start-up, a cold JIT per thread, copying slices and results).
 *
 * The last lines are exactly
 *   evaluate-pool-cpu-overhead: <pool CPU time / sequential CPU time>
 *   evaluate-pool-speedup: <sequential wall time / pool wall time>
 * BENCH_EVALUATE_QUICK=1 scores fewer regions with a shorter budget.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { initBackend } from '../src/runtime/backend.js';
import { GpdConfig } from '../src/config/schema.js';
import { syntheticCities, syntheticDefaultsOf } from '../src/data/resolve.js';
import { createForecaster } from '../src/models/registry.js';
import { prepareTarget } from '../src/train/target.js';
import { evaluateTarget } from '../src/transfer/evaluate.js';
import { Rng } from '../src/util/prng.js';

const quick = process.env.BENCH_EVALUATE_QUICK === '1';
const backend = await initBackend();
// The demo's configuration: target synth-d, K = 3 days, the fine-tuning section's defaults.
const cfg = GpdConfig.parse({});
const target = syntheticCities(syntheticDefaultsOf(cfg.data)).find((c) => c.id === 'synth-d')!;
const prep = prepareTarget(target, cfg.data.kDays, cfg.data.feature, cfg.data.baseline, cfg.finetune.holdout);
const model = createForecaster(cfg.bank.model);
const finetune = cfg.finetune;
const regions = Array.from({ length: quick ? 4 : 8 }, (_, i) => i * 3);
const rng = new Rng(11);
const vec = (label: string) => model.layout.init(rng.fork(label));
const inits = { shared: vec('shared'), bankMean: vec('mean'), nearest: (r: number) => vec(`nearest-${r}`), generated: (r: number) => vec(`generated-${r}`) };
const root = mkdtempSync(join(tmpdir(), 'gpd-bench-eval-'));

function filesDigest(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  return h.digest('hex');
}

console.log(`backend ${backend}; target ${target.id} (${regions.length} of ${target.N} regions), K = ${cfg.data.kDays} days, fine-tuning ${quick ? 5 : finetune.epochs} epochs x ${finetune.minStepsPerEpoch} steps, every method`);
const best = { sequential: Infinity, pool: Infinity };
const cpu = { sequential: Infinity, pool: Infinity };
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const digests = new Set<string>();
try {
  for (let round = 0; round < (quick ? 1 : 2); round++) {
    for (const [mode, workers] of [['sequential', 0], ['pool', 2]] as const) {
      const dir = join(root, `${mode}-${round}`);
      const t0 = performance.now();
      const c0 = cpuSeconds();
      await evaluateTarget({ model, prep, regions, inits, finetune: quick ? { ...finetune, epochs: 5 } : finetune, seed: cfg.seed, regionFile: (r) => join(dir, `region-${r}.safetensors`), workers });
      const s = (performance.now() - t0) / 1000;
      const c = cpuSeconds() - c0;
      best[mode] = Math.min(best[mode], s);
      cpu[mode] = Math.min(cpu[mode], c);
      digests.add(filesDigest(dir));
      console.log(`round ${round + 1} ${mode}${workers ? ` (${workers} threads)` : ''}: ${s.toFixed(1)} s wall, ${c.toFixed(1)} s CPU`);
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
if (digests.size !== 1) throw new Error('the pooled evaluation wrote different files than the sequential one');
console.log(`best: sequential ${best.sequential.toFixed(1)} s, pool of 2 ${best.pool.toFixed(1)} s wall; ${cpu.sequential.toFixed(1)} and ${cpu.pool.toFixed(1)} s CPU; identical prediction files`);
console.log(`evaluate-pool-cpu-overhead: ${(cpu.pool / cpu.sequential).toFixed(2)}`);
console.log(`evaluate-pool-speedup: ${(best.sequential / best.pool).toFixed(2)}`);
