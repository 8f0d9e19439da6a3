/**
 * Scoring every method of PROTOCOL.md on one target city's test period, region by region, with the
 * same base model, splits and fine-tuning budget for all of them. Each region's predictions are
 * saved as soon as they exist, so an interrupted evaluation resumes where it stopped.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Forecaster } from '../models/types.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../util/safetensors.js';
import { Rng } from '../util/prng.js';
import { ArtefactError } from '../util/errors.js';
import { throwIfAborted, type ProgressFn } from '../util/progress.js';
import { MethodScores } from './scores.js';
import { FinetuneConfig, type FinetuneConfigInput } from '../train/config.js';
import { finetune } from '../train/finetune.js';
import { historicalAveragePredict } from '../baselines/historical-average.js';
import { lastValuePredict } from '../baselines/last-value.js';
import { predictWindows } from '../train/predict.js';
import { targetRegion, type TargetPrep } from '../train/target.js';
import { prescaleToTraining } from '../train/calibrate.js';

/**
 * Method keys, in table order: PROTOCOL.md methods 1-2, the models' own seasonal baseline without any
 * network (only when data.baseline is not `none`), methods 3-8, then the untrained init of every
 * fine-tuned method (random init, bank mean, shared model, nearest prompt; GPD's is gpd_zero_shot), so
 * that what fine-tuning adds is visible for each, and last the generated and the random-init model
 * each calibrated by one scalar on the K days (no gradient step).
 *
 * Why the calibrated pair: with a seasonal baseline a random-init network outputs almost nothing, so
 * "random init" is the baseline itself, and a generated correction that points the right way but is
 * too large (the source cities' residuals are not the target's; transfer/shrink.ts) loses to it. Giving
 * both the same closed-form scale (prescaleToTraining: the output layer times the least-squares factor
 * on the few-shot training windows, clamped to [0, 1]) asks the question the zero-shot comparison is
 * for, whether the generated correction carries information a random one does not, without letting
 * either be trained. They are not zero-shot in the strict sense (one number per region is fitted on
 * target data) and are reported as their own rows, never as gpd_zero_shot.
 */
export const METHODS = [
  'ha',
  'last',
  'seasonal_baseline',
  'target_only',
  'source_transfer',
  'bank_mean',
  'nearest_prompt',
  'gpd_zero_shot',
  'gpd',
  'random_init',
  'bank_mean_zero_shot',
  'source_transfer_zero_shot',
  'nearest_prompt_zero_shot',
  'gpd_calibrated',
  'random_init_calibrated',
] as const;
export type Method = (typeof METHODS)[number];

export const METHOD_LABELS: Record<Method, string> = {
  ha: 'Historical average',
  last: 'Last value',
  seasonal_baseline: 'Seasonal baseline (no network)',
  target_only: 'Target-only (random init, fine-tuned)',
  source_transfer: 'Source transfer (shared model, fine-tuned)',
  bank_mean: 'Bank mean (fine-tuned)',
  nearest_prompt: 'Nearest prompt (fine-tuned)',
  gpd_zero_shot: 'GPD zero-shot (generated, no training)',
  gpd: 'GPD (generated, fine-tuned)',
  random_init: 'Random init (no training)',
  bank_mean_zero_shot: 'Bank mean (no training)',
  source_transfer_zero_shot: 'Source transfer (shared model, no training)',
  nearest_prompt_zero_shot: 'Nearest prompt (no training)',
  gpd_calibrated: 'GPD calibrated (generated, one scale fitted on the K days)',
  random_init_calibrated: 'Random init calibrated (one scale fitted on the K days)',
};

/** Initial vectors per region for the model-based methods. */
export interface MethodInits {
  shared: Float32Array;
  bankMean: Float32Array;
  /** Nearest source vector per target region. */
  nearest: (region: number) => Float32Array;
  generated: (region: number) => Float32Array;
}

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

async function evaluateRegion(o: EvaluateOptions, region: number, methods: readonly Method[]): Promise<Partial<Record<Method, Float32Array>>> {
  const { model, prep } = o;
  const t = targetRegion(prep, region);
  const { dataset, test } = t;
  const rng = new Rng(o.seed).fork(`finetune:${prep.city.id}:${region}`);
  let warned = false;
  const ft = FinetuneConfig.parse(o.finetune);
  const tune = async (init: Float32Array, label: string) => {
    const { params, fit } = await finetune(model, init, dataset, ft, rng.fork(label), { shouldStop: () => o.signal?.aborted === true });
    if (!fit.validated && !warned) {
      warned = true;
      o.onWarning?.(
        `${prep.city.id} region ${prep.city.nodeIds[region] ?? region}: the few-shot validation part (${dataset.val.count} windows) has no observed target, ` +
          `so fine-tuning there ran all ${ft.epochs} epochs and kept the last (no early stopping or shrinking)`,
      );
    }
    return params;
  };
  const run = (params: Float32Array) => predictWindows(model, params, dataset.adjacency, dataset.n, test, dataset.norm);
  const ha = historicalAveragePredict(prep.ha, prep.city, region, test);
  const randomInit = model.layout.init(rng.fork('random-init'));
  // Each method's forecast; only the requested ones run (ablations need just the GPD rows).
  const compute: Record<Method, () => Promise<Float32Array> | Float32Array> = {
    ha: () => ha,
    last: () => lastValuePredict(prep.city, region, prep.feature, test, ha),
    // A network that outputs zero: the baseline forecast every model corrects.
    seasonal_baseline: () => {
      if (!prep.norm.baseline) throw new Error('seasonal_baseline is scored only when the models have a baseline (data.baseline is none)');
      return test.yOffset.slice();
    },
    target_only: async () => run(await tune(randomInit, 'target-only')),
    source_transfer: async () => run(await tune(o.inits.shared, 'source-transfer')),
    bank_mean: async () => run(await tune(o.inits.bankMean, 'bank-mean')),
    nearest_prompt: async () => run(await tune(o.inits.nearest(region), 'nearest-prompt')),
    gpd_zero_shot: () => run(o.inits.generated(region)),
    gpd: async () => run(await tune(o.inits.generated(region), 'gpd')),
    random_init: () => run(randomInit),
    bank_mean_zero_shot: () => run(o.inits.bankMean),
    source_transfer_zero_shot: () => run(o.inits.shared),
    nearest_prompt_zero_shot: () => run(o.inits.nearest(region)),
    gpd_calibrated: () => run(prescaleToTraining(model, o.inits.generated(region), dataset).params),
    random_init_calibrated: () => run(prescaleToTraining(model, randomInit, dataset).params),
  };
  const out: Partial<Record<Method, Float32Array>> = {};
  for (const m of methods) out[m] = await compute[m]();
  return out;
}

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
  const scores = new MethodScores();
  const predictions: RegionPredictions[] = [];
  let done = 0;
  const methods = o.methods ?? defaultMethods(o.prep);
  for (const region of o.regions) {
    throwIfAborted(o.signal, 'evaluation');
    const file = o.regionFile(region);
    // Methods already in the region's file are kept and only the missing ones run: the run folder's
    // configuration is checked against config.json (pipeline.ts), and every method draws from its
    // own labelled random stream, so a method computed alone equals the same method computed with
    // all others (test/transfer/evaluate.test.ts).
    const saved = savedPredictions(file, o.onWarning);
    const missing = methods.filter((m) => !saved[m]);
    const preds: Partial<Record<Method, Float32Array>> = {};
    for (const m of methods) if (saved[m]) preds[m] = saved[m]!.data as Float32Array;
    if (missing.length > 0) {
      const fresh = await evaluateRegion(o, region, missing);
      throwIfAborted(o.signal, 'evaluation');
      const tensors: Record<string, SafeTensor> = { ...saved };
      for (const m of missing) {
        preds[m] = fresh[m]!;
        tensors[m] = { dtype: 'F32', shape: [fresh[m]!.length], data: fresh[m]! };
      }
      writeSafetensors(file, tensors, { region: String(region), city: o.prep.city.id, evaluation: String(EVALUATION_VERSION) });
    }
    const test = targetRegion(o.prep, region).test;
    for (const m of methods) {
      const p = preds[m]!;
      if (p.length !== test.count * 6) throw new ArtefactError(file, `${file}: "${m}" has ${p.length} values, expected ${test.count * 6} (from another evaluation?)`, `delete ${dirname(file)} to score the run again`);
      scores.add(m, region, p, test);
    }
    predictions.push({ region, starts: test.starts, preds });
    done++;
    o.onProgress?.({ task: 'evaluate', done, total: o.regions.length, detail: `region ${o.prep.city.nodeIds[region] ?? region}` });
  }
  return { scores, predictions };
}
