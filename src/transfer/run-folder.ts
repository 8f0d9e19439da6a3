/**
 * A run folder of `gpd transfer`: the one module that knows its file names, reads and writes its
 * summary files, and decides whether a folder may be resumed with a configuration. The CLI, the
 * report, the pipeline and the experiments all ask it instead of spelling paths.
 *
 *   config.json              the resolved configuration, seed, command, versions, backend
 *   bank/                    the parameter bank, unless bank.dir puts it elsewhere
 *   shared.safetensors       the shared model, when the bank has none (random-init banks)
 *   prompts/spec.json        the prompt spec fitted on the sources
 *   generator/               the trained generator (diffusion/generator.ts, transfer/generate.ts)
 *   generated.safetensors    one generated vector per scored target region
 *   target.json              the target as its models see it: encoding, split, scored regions' subgraphs
 *   eval/region-NNNNN.safetensors   every method's test predictions, models and validation scores for
 *                            one region (resumable; transfer/eval-file.ts)
 *   results.json             every method's scores (RunResults)
 *   report-data.json, report.html   the report (report/)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ArtefactError, rethrowStorage } from '../util/errors.js';
import { bankHoldsVectors } from '../bank/store.js';
import { GpdConfig } from '../config/schema.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { formatIssues } from '../util/zod-issues.js';

export const RUN_FILES = {
  config: 'config.json',
  bank: 'bank',
  shared: 'shared.safetensors',
  promptSpec: join('prompts', 'spec.json'),
  generator: 'generator',
  generated: 'generated.safetensors',
  target: 'target.json',
  eval: 'eval',
  results: 'results.json',
  reportData: 'report-data.json',
  reportHtml: 'report.html',
} as const;
export type RunFile = keyof typeof RUN_FILES;

const finite = z.number().nullable().transform((v) => (v === null ? NaN : v));

/** One method's scores over the scored regions (original units). */
export const MethodSummary = z.object({
  mae: finite,
  rmse: finite,
  mape: finite,
  maeByHorizon: z.array(finite),
  rmseByHorizon: z.array(finite),
  /** Regions where fine-tuned GPD has the lower mean MAE than this method. */
  regionsWon: z.number().optional(),
});
export type MethodSummary = z.output<typeof MethodSummary>;

/** results.json: what a finished run scored, and the settings a results table must name (PROTOCOL.md). */
export const RunResults = z.object({
  target: z.string(),
  sources: z.array(z.string()),
  model: z.string(),
  kDays: z.number(),
  conditioning: z.string(),
  sampler: z.string(),
  samplerSteps: z.number(),
  seed: z.number(),
  regionsScored: z.number(),
  regionsTotal: z.number(),
  methods: z.record(z.string(), MethodSummary),
  labels: z.record(z.string(), z.string()),
  wallSeconds: z.number().optional(),
  /** The zero-shot row's output scale and the few-shot MAE it was chosen by (absent when fixed, and in older runs). */
  zeroShotScale: z.object({ scale: z.number(), grid: z.array(z.number()), mae: z.array(z.number()) }).optional(),
});
export type RunResults = z.output<typeof RunResults>;

/** config.json as written by writeConfig. */
export interface SavedRunConfig {
  config: GpdConfig;
  seed: number;
  command: string | null;
  versions: Record<string, string>;
  backend: string;
}

/**
 * Keys that change only how stored predictions are scored and forecasts bounded, not any artefact: a
 * run folder resumes under a new value (config.json then records it) and is rescored without retraining.
 */
export const RESCORE_ONLY_KEYS = ['data.correctionBound'];
/**
 * Keys that change only the rows started from the generated vector (the stored generated vectors stay
 * valid): a run folder resumes under a new value and scores those rows again.
 */
export const REGENERATED_ROWS_KEYS = ['sampling.outputScale', 'sampling.zeroShotScale', 'finetune.generatedStart'];

/**
 * Keys added after run folders were made, each with the value that does what a folder without it did:
 * a folder whose config.json lacks one resumes when the configuration holds that value (an upgrade does
 * not refuse a run whose recipe it leaves unchanged), and is refused under any other.
 */
export const ADDED_KEYS: Record<string, unknown> = { 'finetune.calibration': 'region', 'finetune.baselineGuard': false };

/** A configDiff line that only says a key of ADDED_KEYS, absent before, now holds its old behaviour's value. */
function isAddedKeyAtOldValue(diffLine: string): boolean {
  return Object.entries(ADDED_KEYS).some(([k, v]) => diffLine === `${k}: absent -> ${JSON.stringify(v)}`);
}

/** The keys whose values differ between two configurations, as `key: old -> new` (nested keys dotted). */
export function configDiff(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => configDiff(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  return [`${prefix || '(root)'}: ${JSON.stringify(a) ?? 'absent'} -> ${JSON.stringify(b) ?? 'absent'}`];
}

/** A JSON file of the run; `fix` says how to get it when it is missing. */
function readJson(file: string, fix: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ArtefactError(file, `${file} not found`, fix);
    rethrowStorage(err, file, 'read');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ArtefactError(file, `${file} is not valid JSON (${(err as Error).message})`, 'delete it and rerun the command that writes it');
  }
}

export class RunFolder {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  path(file: RunFile): string {
    return join(this.dir, RUN_FILES[file]);
  }

  has(file: RunFile): boolean {
    return existsSync(this.path(file));
  }

  /** The bank this run uses: bank.dir when set (shared between runs), else the run's own. */
  bankDir(cfg: GpdConfig): string {
    return cfg.bank.dir ? resolve(cfg.bank.dir) : this.path('bank');
  }

  evalRegion(region: number): string {
    return join(this.path('eval'), `region-${String(region).padStart(5, '0')}.safetensors`);
  }

  /** A finished run holds its results. */
  isFinished(): boolean {
    return this.has('results');
  }

  readConfig(): SavedRunConfig {
    const file = this.path('config');
    const saved = readJson(file, `${this.dir} is not a run folder of \`gpd transfer\` (or it has not started)`) as Partial<SavedRunConfig>;
    const parsed = GpdConfig.safeParse(saved?.config);
    if (!parsed.success) throw new ArtefactError(file, `${file}: its configuration is not valid for this gpd:\n${formatIssues(parsed.error, saved?.config, GpdConfig, 'config.').map((l) => `  ${l}`).join('\n')}`);
    return { config: parsed.data, seed: saved.seed ?? parsed.data.seed, command: saved.command ?? null, versions: saved.versions ?? {}, backend: saved.backend ?? 'unknown' };
  }

  /**
   * The artefacts this folder holds beyond its config.json (what a resume would reuse): a folder
   * without any, such as one a run that failed early left behind, may take a new configuration.
   */
  artefacts(cfg: GpdConfig): string[] {
    const kept: RunFile[] = ['shared', 'promptSpec', 'generator', 'generated', 'target', 'eval', 'results'];
    const found: string[] = kept.filter((f) => this.has(f)).map((f) => RUN_FILES[f]);
    const bank = this.bankDir(cfg);
    if (bank === this.path('bank') && bankHoldsVectors(bank)) found.unshift(RUN_FILES.bank);
    return found;
  }

  /**
   * Refuse to resume a run folder made with a different configuration (results would silently mix),
   * naming every key that differs. A folder without config.json, or holding nothing but it, is new.
   */
  checkConfig(cfg: GpdConfig): void {
    if (!this.has('config')) return;
    const saved = readJson(this.path('config'), '') as { config?: unknown };
    const diff = configDiff(saved.config, cfg).filter((d) => !isAddedKeyAtOldValue(d) && ![...RESCORE_ONLY_KEYS, ...REGENERATED_ROWS_KEYS].some((k) => d.startsWith(`${k}:`)));
    const artefacts = diff.length > 0 ? this.artefacts(cfg) : [];
    if (artefacts.length > 0) {
      throw new ArtefactError(
        this.path('config'),
        `run folder ${this.dir} was made with a different configuration (${diff.join('; ')}) and holds its ${artefacts.join(', ')}`,
        'use a new --out folder, or the same settings to resume',
      );
    }
  }

  writeConfig(cfg: GpdConfig, info: { command: string | null; versions: Record<string, string>; backend: string }): void {
    writeJsonAtomic(this.path('config'), { config: cfg, seed: cfg.seed, command: info.command, versions: info.versions, backend: info.backend });
  }

  readResults(): RunResults {
    const file = this.path('results');
    const json = readJson(file, this.finishHint());
    const parsed = RunResults.safeParse(json);
    if (!parsed.success) throw new ArtefactError(file, `${file} is not a results file of this gpd:\n${formatIssues(parsed.error, json, RunResults).map((l) => `  ${l}`).join('\n')}`);
    return parsed.data;
  }

  /** How to get results.json: the command recorded in config.json when there is one (its -c and --set included). */
  finishHint(): string {
    let command: string | null = null;
    try {
      command = (JSON.parse(readFileSync(this.path('config'), 'utf8')) as Partial<SavedRunConfig>).command ?? null;
    } catch {
      // no config.json (or a damaged one): the generic hint
    }
    return command
      ? `the run has not finished: run \`${command}\` again to finish it (it resumes)`
      : `run \`gpd transfer --out ${this.dir}\` first (with the same -c and --set as the run; it resumes if interrupted)`;
  }

  writeResults(r: RunResults): void {
    writeJsonAtomic(this.path('results'), r);
  }
}
