/**
 * Scoring every method of PROTOCOL.md on one target city's test period, region by region, with the
 * same base model, splits and fine-tuning budget for all of them. Each region's predictions, and the
 * model and few-shot validation score of every model-based method, are saved as soon as they exist
 * (eval-file.ts), so an interrupted evaluation resumes where it stopped.
 */
import { dirname } from 'node:path';
import type { Forecaster } from '../models/types.js';
import { ArtefactError } from '../util/errors.js';
import { throwIfAborted, type ProgressFn } from '../util/progress.js';
import { MethodScores } from './scores.js';
import { FinetuneConfig, generatedStartFor, type FinetuneConfigInput } from '../train/config.js';
import { targetRegion, type TargetPrep } from '../train/target.js';
import type { ModelName } from '../models/registry.js';
import { localJobEngine } from '../bank/job-engine.js';
import { JobsFailed, type JobEngine, type RegionJob } from '../bank/jobs.js';
import { sliceRegion } from '../bank/region-slice.js';
import { GENERATED_METHODS, METHODS, computedMethods, gpdAutoChoice, isModelMethod, type Method, type MethodInits } from './methods.js';
import { TRANSFER_REGION_JOB, runTransferRegion, sliceTargetPrep, type TransferRegionPayload, type TransferRegionResult } from './region-eval.js';
import { DEFAULT_CORRECTION_BOUND, boundForecasts, fewShotCorrectionRange } from '../train/correction-bound.js';
import { EVALUATION_VERSION, gpdRowsTag, readEvalCache, writeEvalRegion, type EvalRegionFile } from './eval-file.js';

export { METHODS, METHOD_LABELS, BASELINE_METHODS, MODEL_METHODS, isModelMethod, type Method, type ModelMethod, type MethodInits } from './methods.js';
export { EVALUATION_VERSION };

export interface EvaluateOptions {
  model: Forecaster;
  prep: TargetPrep;
  regions: number[];
  inits: MethodInits;
  /** The fine-tuning recipe (train/finetune.ts); unset fields take the `finetune` section's defaults. */
  finetune: FinetuneConfigInput;
  seed: number;
  /** Where a region's predictions and models are saved (the run folder's eval/region-NNNNN.safetensors). */
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
  /**
   * data.correctionBound: model forecasts are scored with their corrections bounded by the region's
   * few-shot days (train/correction-bound.ts; 0 = unbounded). Saved predictions stay unbounded, so
   * a changed factor rescores without retraining.
   */
  correctionBound?: number;
  /**
   * sampling.outputScale (default 1): fine-tuned GPD's `scaled` start is `inits.generated` with its
   * output layer scaled by it (and the zero-shot row, unless zeroShotScale says otherwise). A region
   * file's GPD rows made at another scale or fine-tuning start (finetune.generatedStart) are dropped
   * and scored again; its other rows are kept.
   */
  generatedScale?: number;
  /** The zero-shot row's output scale (sampling.zeroShotScale, chosen per city by the pipeline); default generatedScale. */
  zeroShotScale?: number;
}

export interface RegionPredictions {
  region: number;
  starts: Int32Array;
  preds: Partial<Record<Method, Float32Array>>;
}

/** Every method that applies: the seasonal baseline row only when the models have one. */
export function defaultMethods(prep: TargetPrep): Method[] {
  return METHODS.filter((m) => m !== 'seasonal_baseline' || prep.norm.baseline !== undefined);
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
  // gpd_auto is chosen from the two GPD rows (methods.ts DERIVED_METHODS): they run whenever it is asked for.
  const computed = computedMethods(methods);
  const saved = new Map<number, EvalRegionFile>();
  const regionOf = new Map<RegionJob<TransferRegionPayload>, number>();
  const jobs: RegionJob<TransferRegionPayload>[] = [];
  const finetune = FinetuneConfig.parse(o.finetune);
  const model = o.model.name as ModelName;
  const generatedScale = o.generatedScale ?? 1;
  const zeroShotScale = o.zeroShotScale ?? generatedScale;
  const generatedRows = gpdRowsTag(zeroShotScale, generatedStartFor(finetune.generatedStart, o.prep.split.kDays), generatedScale);
  for (const region of o.regions) {
    const file = o.regionFile(region);
    // A damaged file is a cache: scored again. One of another evaluation version is refused by name.
    let kept = readEvalCache(file, (err) => o.onWarning?.(`${err.problem}: scoring that region again`));
    if (kept.generatedRows !== generatedRows) kept = withoutGeneratedRows(kept, generatedRows);
    saved.set(region, kept);
    const missing = computed.filter((m) => !kept.preds[m] || (isModelMethod(m) && (!kept.params[m] || !kept.validation[m])));
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
        generatedScale,
        zeroShotScale,
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
    onResult: (job, { preds, params, validation, warnings }) => {
      const region = regionOf.get(job)!;
      const kept = saved.get(region)!;
      const merged: EvalRegionFile = { preds: { ...kept.preds, ...preds }, params: { ...kept.params, ...params }, validation: { ...kept.validation, ...validation }, generatedRows };
      writeEvalRegion(o.regionFile(region), merged, { region, city: city.id });
      saved.set(region, merged);
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
  const factor = o.correctionBound ?? DEFAULT_CORRECTION_BOUND;
  for (const region of o.regions) {
    const file = o.regionFile(region);
    const kept = saved.get(region)!;
    const { test, dataset } = targetRegion(o.prep, region);
    const range = fewShotCorrectionRange(dataset);
    const preds: Partial<Record<Method, Float32Array>> = {};
    for (const m of methods) {
      const stored = m === 'gpd_auto' ? kept.preds[gpdAutoChoice(kept.validation)]! : kept.preds[m]!;
      if (stored.length !== test.count * 6) throw new ArtefactError(file, `${file}: "${m}" has ${stored.length} values, expected ${test.count * 6} (from another evaluation?)`, `delete ${dirname(file)} to score the run again`);
      // Baselines are forecasts without a network: nothing to bound.
      const p = isModelMethod(m) || m === 'gpd_auto' ? boundForecasts(stored, test, dataset.norm.std, range, factor) : stored;
      scores.add(m, region, p, test);
      preds[m] = p;
    }
    predictions.push({ region, starts: test.starts, preds });
  }
  return { scores, predictions };
}

/** A region file's rows without those that started from the generated vector, marked with the new tag. */
function withoutGeneratedRows(kept: EvalRegionFile, generatedRows: string): EvalRegionFile {
  const drop = <T>(r: Record<string, T>) => Object.fromEntries(Object.entries(r).filter(([m]) => !(GENERATED_METHODS as readonly string[]).includes(m)));
  return { preds: drop(kept.preds), params: drop(kept.params), validation: drop(kept.validation), generatedRows };
}
