/**
 * Scoring every method of PROTOCOL.md on one target city's test period, region by region, with the
 * same base model, splits and fine-tuning budget for all of them. Each region's predictions are
 * saved as soon as they exist, so an interrupted evaluation resumes where it stopped.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Forecaster } from '../models/types.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../util/safetensors.js';
import { ArtefactError } from '../util/errors.js';
import { throwIfAborted, type ProgressFn } from '../util/progress.js';
import { MethodScores } from './scores.js';
import { FinetuneConfig, type FinetuneConfigInput } from '../train/config.js';
import { targetRegion, type TargetPrep } from '../train/target.js';
import type { ModelName } from '../models/registry.js';
import { localJobEngine } from '../bank/job-engine.js';
import { JobsFailed, type JobEngine, type RegionJob } from '../bank/jobs.js';
import { sliceRegion } from '../bank/region-slice.js';
import { METHODS, type Method, type MethodInits } from './methods.js';
import { TRANSFER_REGION_JOB, runTransferRegion, sliceTargetPrep, type TransferRegionPayload, type TransferRegionResult } from './region-eval.js';

export { METHODS, METHOD_LABELS, type Method, type MethodInits } from './methods.js';

export interface EvaluateOptions {
  model: Forecaster;
  prep: TargetPrep;
  regions: number[];
  inits: MethodInits;
  /** The fine-tuning recipe (train/finetune.ts); unset fields take the `finetune` section's defaults. */
  finetune: FinetuneConfigInput;
  seed: number;
  /** Where a region's predictions are saved (the run folder's eval/region-NNNNN.safetensors). */
  regionFile: (region: number) => string;
  /** Methods to score (default: all). */
  methods?: readonly Method[];
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  /**
   * Called once per region whose few-shot validation part holds no observed target: its fine-tuning
   * could not stop early or select an epoch (and shrinking has nothing to fit), so every fine-tuned
   * method there ran its whole budget and kept the last epoch. Also called for a damaged saved
   * region file, which is scored again.
   */
  onWarning?: (message: string) => void;
  /** Worker threads evaluating regions side by side (0, the default: one region at a time in this thread). */
  workers?: number;
  /** Runs the region jobs instead of the local engine (a cluster engine, src/cluster/). */
  engine?: JobEngine;
}

export interface RegionPredictions {
  region: number;
  starts: Int32Array;
  preds: Partial<Record<Method, Float32Array>>;
}

/**
 * Version of what evaluation computes (2: fine-tuning validates on the last whole day and keeps the
 * init unless it is clearly beaten, train/finetune.ts). A region's saved predictions are reused on resume (only missing
 * methods run), and the run folder's config.json catches a changed configuration but not changed
 * code: bump this with any change that alters a method's predictions, so older eval folders are
 * refused by name instead of silently mixed with new ones. Files without the field are version 1.
 */
export const EVALUATION_VERSION = 2;

/** Every method that applies: the seasonal baseline row only when the models have one. */
export function defaultMethods(prep: TargetPrep): Method[] {
  return METHODS.filter((m) => m !== 'seasonal_baseline' || prep.norm.baseline !== undefined);
}

/**
 * The predictions already saved for a region ({} when none). The file is a cache: a damaged one
 * (truncated, checksum mismatch) is removed with a warning and the region scored again; one from
 * another evaluation version is refused by name (its predictions may differ).
 */
function savedPredictions(file: string, onWarning?: (message: string) => void): Record<string, SafeTensor> {
  if (!existsSync(file)) return {};
  let r: ReturnType<typeof readSafetensors>;
  try {
    r = readSafetensors(file);
  } catch (err) {
    if (!(err instanceof ArtefactError)) throw err;
    onWarning?.(`${err.problem}: scoring that region again`);
    rmSync(file, { force: true });
    return {};
  }
  const version = Number(r.metadata['evaluation'] ?? 1);
  if (version !== EVALUATION_VERSION) {
    throw new ArtefactError(file, `${file}: saved by evaluation version ${r.metadata['evaluation'] ?? 1}, this code computes version ${EVALUATION_VERSION} (its predictions may differ)`, `delete ${dirname(file)} to score the run again`);
  }
  return r.tensors;
}

/** Evaluate (or resume) every region; returns pooled scores and the raw predictions. */
export async function evaluateTarget(o: EvaluateOptions): Promise<{ scores: MethodScores; predictions: RegionPredictions[] }> {
  const methods = o.methods ?? defaultMethods(o.prep);
  const { city } = o.prep;
  const nodeId = (region: number) => city.nodeIds[region] ?? String(region);
  // Methods already in a region's file are kept and only the missing ones run: the run folder's
  // configuration is checked against config.json (pipeline.ts), and every method draws from its
  // own labelled random stream, so a method computed alone equals the same method computed with
  // all others (test/transfer/evaluate.test.ts).
  const saved = new Map<number, Record<string, SafeTensor>>();
  const regionOf = new Map<RegionJob<TransferRegionPayload>, number>();
  const jobs: RegionJob<TransferRegionPayload>[] = [];
  const finetune = FinetuneConfig.parse(o.finetune);
  const model = o.model.name as ModelName;
  for (const region of o.regions) {
    const file = o.regionFile(region);
    const kept = savedPredictions(file, o.onWarning);
    saved.set(region, kept);
    const missing = methods.filter((m) => !kept[m]);
    if (missing.length === 0) continue;
    const job: RegionJob<TransferRegionPayload> = {
      kind: TRANSFER_REGION_JOB,
      label: `${city.id} region ${nodeId(region)}`,
      payload: () => ({
        model,
        finetune,
        seed: o.seed,
        methods: missing,
        inits: { shared: o.inits.shared, bankMean: o.inits.bankMean, nearest: o.inits.nearest(region), generated: o.inits.generated(region) },
        data: sliceRegion(city, o.prep, region, sliceTargetPrep),
      }),
    };
    regionOf.set(job, region);
    jobs.push(job);
  }

  let done = o.regions.length - jobs.length;
  if (done > 0) o.onProgress?.({ task: 'evaluate', done, total: o.regions.length, detail: `resuming: ${done} regions already scored` });
  const engine = o.engine ?? localJobEngine({ workers: o.workers ?? 0, name: 'evaluation', entry: new URL('./worker.ts', import.meta.url), handlers: { [TRANSFER_REGION_JOB]: runTransferRegion } });
  const failures = await engine.run<TransferRegionPayload, TransferRegionResult>({
    what: 'evaluation',
    jobs,
    ...(o.signal ? { signal: o.signal } : {}),
    // Each region is saved as soon as it is scored, so an interrupted evaluation resumes there.
    onResult: (job, { preds, warnings }) => {
      const region = regionOf.get(job)!;
      const tensors: Record<string, SafeTensor> = { ...saved.get(region)! };
      for (const m of Object.keys(preds) as Method[]) tensors[m] = { dtype: 'F32', shape: [preds[m]!.length], data: preds[m]! };
      writeSafetensors(o.regionFile(region), tensors, { region: String(region), city: city.id, evaluation: String(EVALUATION_VERSION) });
      saved.set(region, tensors);
      for (const w of warnings) o.onWarning?.(w);
      done++;
      o.onProgress?.({ task: 'evaluate', done, total: o.regions.length, detail: `region ${nodeId(region)}` });
    },
    onProgress: (lane, job, d, total) => o.onProgress?.({ task: 'evaluate worker', done: d, total, detail: job.label, lane }),
  });
  if (failures.length > 0) throw new JobsFailed('evaluation', failures, `${done}/${o.regions.length} regions scored`);
  throwIfAborted(o.signal, 'evaluation');

  // Scores in region order, whatever order the regions finished in (pooled sums depend on it).
  const scores = new MethodScores();
  const predictions: RegionPredictions[] = [];
  for (const region of o.regions) {
    const file = o.regionFile(region);
    const kept = saved.get(region)!;
    const test = targetRegion(o.prep, region).test;
    const preds: Partial<Record<Method, Float32Array>> = {};
    for (const m of methods) {
      const p = kept[m]!.data as Float32Array;
      if (p.length !== test.count * 6) throw new ArtefactError(file, `${file}: "${m}" has ${p.length} values, expected ${test.count * 6} (from another evaluation?)`, `delete ${dirname(file)} to score the run again`);
      scores.add(m, region, p, test);
      preds[m] = p;
    }
    predictions.push({ region, starts: test.starts, preds });
  }
  return { scores, predictions };
}
