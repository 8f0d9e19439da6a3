/**
 * One record per finished run (`<out>/runs.json`): enough to rebuild every table once the run folders
 * are gone, and to tell which runs are done.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { GpdConfig, MethodSummary, Method } from '../../src/index.js';
import type { BudgetName } from './settings.js';

export interface RunRecord {
  target: string;
  sourceSet: string;
  sources: string[];
  seed: number;
  k: number;
  variant: string;
  methods: Partial<Record<Method, MethodSummary>>;
  regions: number;
  wallSeconds: number;
  /** The run's value encoding and shrinking, so the record describes itself once its run folder is gone. */
  encoding?: GpdConfig['data']['baseline'];
  shrink?: boolean;
  /** finetune.prescale of the run (absent in records written before the option existed, when it was off). */
  prescale?: boolean;
  /** bank.encodingFitDays of the run (absent: the encoding was fitted on the sources' whole training part). */
  encodingFitDays?: number;
  /** bank.model (absent in records written before Graph WaveNet runs existed: STGCN). */
  model?: string;
  /** diffusion.conditioning, sampler and its steps, guidance (absent in older records: pre-bias, DDIM-50). */
  conditioning?: string;
  sampler?: string;
  samplerSteps?: number;
  guidance?: number;
  /** data.correctionBound the run was scored with (absent in records written before the bound existed: unbounded). */
  correctionBound?: number;
  /** sampling.outputScale of the run's generated models (absent in records written before the option existed: 1). */
  outputScale?: number;
  /** The zero-shot row's output scale, chosen on the target's few-shot days (absent: outputScale). */
  zeroShotScale?: number;
  /** How its GPD rows were made (transfer/eval-file.ts gpdRowsTag; absent in records written before the tag). */
  gpdRows?: string;
  /** The budget the run was given (absent in older records: their folder's table.md names it). */
  budget?: BudgetName;
  /** The experiments command line that ran it. */
  command?: string;
}

export type RecordId = Pick<RunRecord, 'target' | 'sourceSet' | 'seed' | 'k' | 'variant'>;

/** The run folder's name under <out>/runs/. */
export function runKey(r: RecordId): string {
  return `${r.target}__${r.sourceSet}__k${r.k}__s${r.seed}__${r.variant.replace(/[:]/g, '-')}`;
}

export function recordKey(r: RecordId): string {
  return `${r.target}|${r.sourceSet}|k${r.k}|s${r.seed}|${r.variant}`;
}

/** The base model of a record (older records carry none: they are all STGCN). */
export const modelOf = (r: Pick<RunRecord, 'model'>) => r.model ?? 'stgcn';

export function readRecords(file: string): RunRecord[] {
  if (!existsSync(file)) return [];
  const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(json)) throw new Error(`${file}: expected a JSON array of run records`);
  return json as RunRecord[];
}

/**
 * Records on disk merged with ours: several experiment processes may share one output folder (e.g. one
 * per city family on a 2-core machine), so each save re-reads the file and keeps the others' records.
 */
export function mergeRecords(file: string, ours: RunRecord[]): RunRecord[] {
  const byKey = new Map<string, RunRecord>();
  for (const r of readRecords(file)) byKey.set(recordKey(r), r);
  for (const r of ours) byKey.set(recordKey(r), r);
  return [...byKey.values()];
}

const MODEL_LABELS: Record<string, string> = { stgcn: 'STGCN', gwn: 'Graph WaveNet' };
export const modelLabel = (model: string) => MODEL_LABELS[model] ?? model;

/** The distinct values of one field over the records, joined with " / " (records without it count as `fallback`). */
function distinct(records: RunRecord[], value: (r: RunRecord) => string | undefined, fallback: string): string {
  const xs = [...new Set(records.map((r) => value(r) ?? fallback))];
  return (xs.length > 0 ? xs : [fallback]).join(' / ');
}

/**
 * What PROTOCOL.md asks a table to name, from the records (records written before they carried these
 * fields were all STGCN, pre-bias conditioning, DDIM-50): "Base model STGCN; conditioning pre-bias
 * unless noted; sampler DDIM-50".
 */
export function settingsPhrase(records: RunRecord[]): string {
  const model = distinct(records, (r) => modelLabel(modelOf(r)), 'STGCN');
  const conditioning = distinct(records, (r) => r.conditioning, 'pre-bias');
  const sampler = distinct(records, (r) => (r.sampler ? `${r.sampler.toUpperCase()}-${r.samplerSteps}` : undefined), 'DDIM-50');
  const guidance = records.some((r) => r.guidance !== undefined) ? `; guidance ${distinct(records, (r) => r.guidance?.toString(), '?')}` : '';
  const bound = distinct(records, (r) => (r.correctionBound ? `x${r.correctionBound}` : 'off'), 'off');
  const scale = distinct(records, (r) => String(r.outputScale ?? 1), '1');
  const chosen = records.flatMap((r) => (r.zeroShotScale === undefined ? [] : [r.zeroShotScale]));
  const outputScale =
    chosen.length === 0
      ? `generated output scale ${scale}`
      : `zero-shot output scale chosen per run on the K days (${Math.min(...chosen)} to ${Math.max(...chosen)}), fine-tuned GPD starting at ${scale}`;
  return `Base model ${model}; conditioning ${conditioning} unless noted; sampler ${sampler}${guidance}; ${outputScale}; correction bound ${bound}`;
}
