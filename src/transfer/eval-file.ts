/**
 * One scored region's evaluation file (the run folder's eval/region-NNNNN.safetensors): every method's
 * test-period predictions, and for every model-based method the parameter vector that made them and its
 * score on the few-shot validation part. Evaluation writes it (atomically, so a killed run resumes);
 * forecasting, serving and export read the models back from it.
 *
 *   tensors   "<method>"          F32 [testWindows * 6]  predictions, original units
 *             "<method>.params"  F32 [P]                the model (ParamLayout order), model-based methods only
 *   metadata  region, city, evaluation (version), validation (JSON: method -> {mae, rmse} on the
 *             few-shot validation windows, original units; null where nothing was observed),
 *             generatedRows (how the rows started from the generated vector were made: gpdRowsTag;
 *             absent in older files, whose GPD rows are then scored again)
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ArtefactError } from '../util/errors.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../util/safetensors.js';

/**
 * Version of what evaluation computes and stores. A region's saved predictions are reused on resume
 * (only missing methods run), and the run folder's config.json catches a changed configuration but not
 * changed code: bump this with any change that alters a method's predictions or what the file holds, so
 * older eval folders are refused by name instead of silently mixed with new ones. Files without the
 * field are version 1. 2: fine-tuning validates on the last whole day and keeps the init unless it is
 * clearly beaten (train/finetune.ts). 3: the models and their validation scores are stored.
 */
export const EVALUATION_VERSION = 3;

const PARAMS_SUFFIX = '.params';

export interface ValidationScore {
  /** NaN when the validation windows hold no observed target. */
  mae: number;
  rmse: number;
}

export interface EvalRegionFile {
  preds: Record<string, Float32Array>;
  params: Record<string, Float32Array>;
  validation: Record<string, ValidationScore>;
  /** How the file's GPD rows were made (gpdRowsTag); '' when the file does not say. */
  generatedRows: string;
}

export function emptyEvalRegion(generatedRows = ''): EvalRegionFile {
  return { preds: {}, params: {}, validation: {}, generatedRows };
}

/**
 * What the rows started from the generated vector depend on beyond the run's artefacts: the zero-shot
 * row's output scale (a number in a region file; `few-shot` where a run is planned before its city
 * chose one), where fine-tuning starts and the scale of that start, and the version of their recipe
 * (3: the zero-shot scale apart from the fine-tuning start's). A region file whose tag differs gets
 * those rows again.
 */
export function gpdRowsTag(zeroShot: number | 'few-shot', start: string, startScale: number): string {
  return `3 zero-shot=${zeroShot} start=${start}@${startScale}`;
}

/** The output scale a region file's zero-shot row was made at: its tag's, or 1 in files without a tag (made unscaled). */
export function gpdRowsScale(tag: string): number {
  if (tag === '') return 1;
  return Number((/ zero-shot=(\S+)/.exec(tag) ?? / scale=(\S+)/.exec(tag))?.[1]);
}

/**
 * The region's saved file, or an empty one when it does not exist yet. A damaged file (truncated,
 * checksum mismatch) is an ArtefactError from readSafetensors; one of another evaluation version is an
 * ArtefactError naming both versions and the fix.
 */
export function readEvalRegion(file: string): EvalRegionFile {
  if (!existsSync(file)) return emptyEvalRegion();
  return parseEvalRegion(file, readSafetensors(file));
}

/**
 * The region's saved file as evaluation's cache: a damaged one is removed, `onDamaged` told (the
 * region is scored again), and an empty one returned; another evaluation version is still refused.
 */
export function readEvalCache(file: string, onDamaged: (err: ArtefactError) => void): EvalRegionFile {
  if (!existsSync(file)) return emptyEvalRegion();
  let r: ReturnType<typeof readSafetensors>;
  try {
    r = readSafetensors(file);
  } catch (err) {
    if (!(err instanceof ArtefactError)) throw err;
    onDamaged(err);
    rmSync(file, { force: true });
    return emptyEvalRegion();
  }
  return parseEvalRegion(file, r);
}

function parseEvalRegion(file: string, r: ReturnType<typeof readSafetensors>): EvalRegionFile {
  const rescore = `delete ${dirname(file)} to score the run again`;
  const version = Number(r.metadata['evaluation'] ?? 1);
  if (version !== EVALUATION_VERSION) {
    throw new ArtefactError(
      file,
      `${file}: saved by evaluation version ${r.metadata['evaluation'] ?? 1}, this code computes version ${EVALUATION_VERSION} (its predictions or stored models may differ)`,
      rescore,
    );
  }
  const out = emptyEvalRegion(r.metadata['generatedRows'] ?? '');
  for (const [name, t] of Object.entries(r.tensors)) {
    if (name.endsWith(PARAMS_SUFFIX)) out.params[name.slice(0, -PARAMS_SUFFIX.length)] = t.data as Float32Array;
    else out.preds[name] = t.data as Float32Array;
  }
  let raw: Record<string, { mae: number | null; rmse: number | null }>;
  try {
    raw = JSON.parse(r.metadata['validation'] ?? '{}') as typeof raw;
  } catch (err) {
    throw new ArtefactError(file, `${file}: its "validation" metadata is not valid JSON (${(err as Error).message})`, rescore);
  }
  for (const [m, s] of Object.entries(raw)) out.validation[m] = { mae: s.mae ?? NaN, rmse: s.rmse ?? NaN };
  return out;
}

const f32 = (data: Float32Array): SafeTensor => ({ dtype: 'F32', shape: [data.length], data });

export function writeEvalRegion(file: string, content: EvalRegionFile, info: { region: number; city: string }): void {
  const tensors: Record<string, SafeTensor> = {};
  for (const [m, p] of Object.entries(content.preds)) tensors[m] = f32(p);
  for (const [m, p] of Object.entries(content.params)) tensors[`${m}${PARAMS_SUFFIX}`] = f32(p);
  const validation = Object.fromEntries(
    Object.entries(content.validation).map(([m, s]) => [m, { mae: Number.isFinite(s.mae) ? s.mae : null, rmse: Number.isFinite(s.rmse) ? s.rmse : null }]),
  );
  writeSafetensors(file, tensors, {
    region: String(info.region),
    city: info.city,
    evaluation: String(EVALUATION_VERSION),
    validation: JSON.stringify(validation),
    generatedRows: content.generatedRows,
  });
}
