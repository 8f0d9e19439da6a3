/**
 * One transfer run of the experiments: its configuration (budget, sources, target, K, seed, variant
 * overrides), the bank folder it shares with every run of the same source set and bank settings, and
 * the record it leaves in runs.json. Runs in this process (runPlan) or in a child (parallel.ts).
 */
import { basename, join } from 'node:path';
import {
  buildBank,
  hash32,
  loadConfig,
  resolveRunCities,
  runTransfer,
  samplerSteps,
  generatedOutputScale,
  plannedGpdRows,
  ProgressRenderer,
  RunFolder,
  type GpdConfig,
  type Method,
} from '../../src/index.js';
import { runKey, type RunRecord } from './records.js';
import { BUDGETS, type BudgetName, type Setting } from './settings.js';

/** One run to do: a setting (target and sources), K, seed, and a variant's overrides. */
export interface RunJob {
  setting: Setting;
  seed: number;
  k: number;
  variant: string;
  extra: readonly string[];
  /** Methods to score (default all; ablations score GPD's rows only). */
  methods?: readonly Method[];
  budget: BudgetName;
}

/** A job resolved to everything a process needs to run it (plain data: it is sent to child processes). */
export interface RunPlan {
  key: string;
  runDir: string;
  bankDir: string;
  config: GpdConfig;
  command: string;
  methods?: Method[];
  /** The record's fields known before the run. */
  base: Omit<RunRecord, 'methods' | 'regions' | 'wallSeconds'>;
}

export interface PlanContext {
  outDir: string;
  /** --set overrides, applied to every run after the variant's. */
  set: readonly string[];
  /** The command line after `npm run experiments --` (recorded in the run folder and the record). */
  argv: readonly string[];
}

export function planRun(job: RunJob, ctx: PlanContext): RunPlan {
  const s = job.setting;
  const key = runKey({ ...s, seed: job.seed, k: job.k, variant: job.variant });
  const overrides = [
    ...BUDGETS[job.budget],
    `data.sources=${JSON.stringify(s.sources)}`,
    `data.target=${s.targetRef}`,
    `data.kDays=${job.k}`,
    `seed=${job.seed}`,
    'bank.seed=1',
    ...job.extra,
    ...ctx.set,
  ];
  // One bank per source set and everything a bank depends on (its settings, the value encoding and
  // channel): variants that change the bank (e.g. data.baseline, bank.model) get their own.
  const resolved = loadConfig(undefined, overrides);
  const bankOf = { sources: s.sources, bank: resolved.bank, baseline: resolved.data.baseline, feature: resolved.data.feature };
  const bankKey = `${s.sourceSet}-${resolved.data.baseline}-${(hash32(JSON.stringify(bankOf)) >>> 0).toString(16)}`;
  const bankDir = join(ctx.outDir, 'banks', bankKey);
  const config = loadConfig(undefined, [...overrides, `bank.dir=${bankDir}`]);
  const outputScale = generatedOutputScale(config.sampling, config.data.baseline);
  const command = `npm run experiments -- ${ctx.argv.join(' ')}`;
  return {
    key,
    runDir: join(ctx.outDir, 'runs', key),
    bankDir,
    config,
    command,
    ...(job.methods ? { methods: [...job.methods] } : {}),
    base: {
      target: s.target,
      sourceSet: s.sourceSet,
      sources: s.sources.map((p) => basename(p).replace('.city.json', '')),
      seed: job.seed,
      k: job.k,
      variant: job.variant,
      encoding: config.data.baseline,
      shrink: config.finetune.shrink,
      prescale: config.finetune.prescale,
      ...(config.bank.encodingFitDays !== undefined ? { encodingFitDays: config.bank.encodingFitDays } : {}),
      model: config.bank.model,
      conditioning: config.diffusion.conditioning,
      sampler: config.sampling.sampler,
      samplerSteps: samplerSteps(config.sampling, config.diffusion.timesteps),
      guidance: config.sampling.guidance,
      correctionBound: config.data.correctionBound,
      outputScale,
      gpdRows: plannedGpdRows(config, job.k),
      budget: job.budget,
      command,
    },
  };
}

/** Run one plan in this process; `onLog` sees every log line of the pipeline (the child uses it to report the bank stage done). */
export async function runPlan(plan: RunPlan, onLog?: (message: string) => void): Promise<RunRecord> {
  const renderer = new ProgressRenderer({ plain: true, logEverySeconds: 30 });
  renderer.log(`== ${plan.key}`);
  const t0 = performance.now();
  const result = await runTransfer({
    config: plan.config,
    runDir: plan.runDir,
    command: plan.command,
    ...(plan.methods ? { methods: plan.methods } : {}),
    onProgress: renderer.onProgress,
    log: (m) => {
      renderer.log(m);
      onLog?.(m);
    },
  });
  renderer.done();
  if (!new RunFolder(plan.runDir).isFinished()) throw new Error(`${plan.key}: no results.json after the run`);
  return { ...plan.base, methods: result.methods, zeroShotScale: result.zeroShotScale, regions: result.regions.length, wallSeconds: (performance.now() - t0) / 1000 };
}

/**
 * Build (or finish) the bank a plan uses, as `gpd transfer` would at its first stage, so that runs
 * started afterwards in parallel find it complete and only read it.
 */
export async function buildBankOf(plan: RunPlan): Promise<void> {
  const cfg = plan.config;
  const renderer = new ProgressRenderer({ plain: true, logEverySeconds: 30 });
  renderer.log(`== bank ${basename(plan.bankDir)} (for ${plan.key} and the runs sharing it)`);
  const { sources } = resolveRunCities(cfg);
  await buildBank({
    ...cfg.bank,
    cities: sources,
    dir: plan.bankDir,
    seed: cfg.bank.seed ?? cfg.seed,
    feature: cfg.data.feature,
    baseline: cfg.data.baseline,
    onProgress: renderer.onProgress,
    onWarning: (m) => renderer.log(`warning: ${m}`),
  });
  renderer.done();
}
