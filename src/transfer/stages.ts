/**
 * The stages `gpd transfer` shares with the stage commands (`gpd diffusion train|sample`): fit the
 * prompt spec, build the bank entries' prompts and train a generator on them, and generate vectors
 * for a city's regions and store them. Each exists once, here.
 */
import { join, resolve } from 'node:path';
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';
import { targetSplit } from '../data/splits.js';
import type { GpdConfig } from '../config/schema.js';
import { loadBank, type LoadedBank } from '../bank/store.js';
import { createForecaster } from '../models/registry.js';
import { fitPromptSpec, regionPrompts, loadPromptSpec } from '../prompts/build.js';
import type { PromptSpec } from '../prompts/spec.js';
import { loadGenerator, type Generator } from '../diffusion/generator.js';
import { generatedOutputScale, zeroShotScaleChosen, type SamplingConfig } from '../diffusion/config.js';
import type { BaselineKind } from '../data/encoding.js';
import type { HoldoutKind } from '../data/splits.js';
import { prepareTarget } from '../train/target.js';
import { chooseZeroShotScale } from './zero-shot-scale.js';
import { readSafetensors, writeSafetensors } from '../util/safetensors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { ArtefactError, UserError } from '../util/errors.js';
import { checkFinite } from '../util/integrity.js';
import { withFolderLock } from '../util/lock.js';
import { scaleOutput } from '../train/calibrate.js';
import type { ModelName } from '../models/registry.js';
import type { ProgressFn } from '../util/progress.js';
import { initBackend } from '../runtime/backend.js';
import { trainGenerator, selectPrompts, bankEntryPrompts, PROMPT_SPEC_FILE, type PromptSet, type TrainedGenerator } from './generate.js';
import { bankFunctionalSamples } from './functional.js';

/** The prompt spec of a run, fitted on its source cities (`prompts.temporal = mae` adds the learned temporal code). */
export function fitRunPromptSpec(sources: City[], cfg: GpdConfig): Promise<PromptSpec> {
  return fitPromptSpec(sources, { feature: cfg.data.feature, dynamics: cfg.prompts.dynamics, ...(cfg.prompts.temporal === 'mae' ? { mae: true } : {}) });
}

/** Train (or resume, or load when finished) the generator in `dir` on a bank and its entries' prompts. */
export function trainGeneratorOnBank(o: {
  bank: LoadedBank;
  sources: City[];
  spec: PromptSpec;
  config: GpdConfig;
  dir: string;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}): Promise<TrainedGenerator> {
  const byId = new Map(o.sources.map((c) => [c.id, c]));
  for (const c of o.bank.index.cities) {
    if (!byId.has(c.id)) throw new DataError(`bank ${o.bank.dir} holds city ${c.id}; pass it among the source cities so its prompts can be built`);
  }
  const cities = o.bank.index.cities.map((c) => byId.get(c.id)!);
  const model = createForecaster(o.bank.settings.model);
  return trainGenerator({
    layout: model.layout,
    ...(o.config.diffusion.functionalWeight > 0 ? { functional: { model, samples: bankFunctionalSamples(o.bank, cities) } } : {}),
    vectors: o.bank.vectors,
    prompts: bankEntryPrompts(o.bank, cities, o.spec),
    config: o.config,
    dir: o.dir,
    seed: o.config.seed,
    promptSpec: o.spec,
    info: { bank: resolve(o.bank.dir), sources: cities.map((c) => c.id), baseline: o.bank.settings.baseline },
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
}

/**
 * `sampling.samples` drawn vectors per region in `regions` (all when absent), from those regions'
 * prompts, grouped by region (region i's are rows i*S .. i*S+S-1); the generator feeds the prompt kinds
 * it was trained with.
 */
export function drawSamples(gen: Generator, prompts: PromptSet, sampling: SamplingConfig, seed: number, regions?: number[], onProgress?: ProgressFn): Float32Array[] {
  const c = gen.config.prompts;
  const use = selectPrompts(prompts, c.spatial.dim > 0, c.temporal.dim > 0);
  const pick = (rows?: Float32Array[]) => rows && (regions ? regions.map((r) => rows[r]!) : rows);
  const spatial = pick(use.spatial);
  const temporal = pick(use.temporal);
  const S = sampling.samples;
  return gen.generate(
    { ...(spatial ? { spatial } : {}), ...(temporal ? { temporal } : {}) },
    { sampler: sampling.sampler, steps: sampling.steps, eta: sampling.eta, guidance: sampling.guidance, seed, ...(S > 1 ? { samples: S } : {}), onStep: (i, total) => onProgress?.({ task: 'generate', done: i, total }) },
  );
}

/** The mean of each group of S consecutive vectors (drawSamples' samples of one region). */
export function averageGroups(drawn: Float32Array[], S: number): Float32Array[] {
  if (S === 1) return drawn;
  return Array.from({ length: drawn.length / S }, (_, i) => {
    const out = new Float32Array(drawn[0]!.length);
    for (let s = 0; s < S; s++) drawn[i * S + s]!.forEach((v, p) => (out[p] += v / S));
    return out;
  });
}

/** One generated vector per region in `regions` (all when absent): the average of its samples. */
export function generateVectors(gen: Generator, prompts: PromptSet, sampling: SamplingConfig, seed: number, regions?: number[], onProgress?: ProgressFn): Float32Array[] {
  return averageGroups(drawSamples(gen, prompts, sampling, seed, regions, onProgress), sampling.samples);
}

/**
 * The generated vectors as a new city gets them: each model's correction of the baseline times
 * the output scale (its output layer scaled). Generated files of a run hold the generator's
 * averages before this, so a changed scale needs no generation again.
 */
export function scaleGenerated(model: ModelName, vectors: Float32Array[], scale: number): Float32Array[] {
  if (scale === 1) return vectors;
  const forecaster = createForecaster(model);
  return vectors.map((v) => scaleOutput(forecaster, v, scale));
}

/** Generated vectors [count, P] (and the region of each) in one safetensors file; a non-finite vector is refused. */
export function writeGenerated(file: string, vectors: Float32Array[], regions: number[], metadata: Record<string, string>): void {
  const P = vectors[0]?.length ?? 0;
  const flat = new Float32Array(vectors.length * P);
  vectors.forEach((v, i) => flat.set(v, i * P));
  const bad = checkFinite(flat, 'the generated parameter vectors');
  if (bad) throw new UserError(`${bad}; the generator is unusable (diffusion training diverged?): delete its folder and retrain it with a lower diffusion.lr`);
  writeSafetensors(file, { vectors: { dtype: 'F32', shape: [vectors.length, P], data: flat }, regions: { dtype: 'I32', shape: [regions.length], data: Int32Array.from(regions) } }, metadata);
}

/** How a run's recomputable file that is damaged gets fixed. */
export const recomputeFix = (file: string) => `delete ${file} and rerun the same command to recompute it`;

/**
 * A tensor of `count` x P finite F32 values from a file of a run folder (generated vectors, the run's
 * shared model); a missing, damaged or mismatching file is an ArtefactError naming it and the fix.
 */
export function readRunVectors(file: string, name: string, P: number, what: string, count = 1): Float32Array {
  try {
    const data = readSafetensors(file).tensors[name]?.data;
    if (!(data instanceof Float32Array) || data.length !== count * P) throw new ArtefactError(file, `${file} does not hold ${what} (${count} x ${P} F32 values in "${name}")`);
    const bad = checkFinite(data, file);
    if (bad) throw new ArtefactError(file, bad);
    return data;
  } catch (err) {
    throw err instanceof ArtefactError ? err.withFix(recomputeFix(file)) : err;
  }
}

/** The vectors of a generated file, checked to hold exactly `regions` with P finite values each. */
export function readGenerated(file: string, regions: number[], P: number): Float32Array[] {
  let saved: number[];
  try {
    const t = readSafetensors(file).tensors['regions'];
    saved = t ? Array.from(t.data as Int32Array) : [];
  } catch (err) {
    throw err instanceof ArtefactError ? err.withFix(recomputeFix(file)) : err;
  }
  if (saved.join(',') !== regions.join(',')) throw new ArtefactError(file, `${file} holds other regions than this run scores`, 'delete it to regenerate');
  const data = readRunVectors(file, 'vectors', P, `${regions.length} generated vectors`, regions.length);
  return regions.map((_, i) => data.slice(i * P, (i + 1) * P));
}

/** `gpd diffusion train`: a generator from an existing bank. */
export async function trainGeneratorFromBank(o: { bankDir: string; sources: City[]; config: GpdConfig; out: string; signal?: AbortSignal; onProgress?: ProgressFn }): Promise<string> {
  await initBackend();
  const bank = loadBank(o.bankDir);
  if (!bank.complete) throw new ArtefactError(o.bankDir, `bank ${o.bankDir} is incomplete`, 'finish it with `gpd bank build` (it resumes)');
  const cities = bank.index.cities.map((c) => o.sources.find((s) => s.id === c.id)).filter((c): c is City => c !== undefined);
  const spec = await fitRunPromptSpec(cities, o.config);
  const { generator } = await withFolderLock(o.out, 'gpd diffusion train', () =>
    trainGeneratorOnBank({ bank, sources: o.sources, spec, config: o.config, dir: o.out, ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) }),
  );
  generator.dispose();
  return o.out;
}

/** `gpd diffusion sample`: one model per region of `city` from its few-shot days; writes vectors + an index. */
export async function sampleForCity(o: {
  generatorDir: string;
  city: City;
  kDays: number;
  sampling: SamplingConfig;
  seed: number;
  out: string;
  /** data.feature and finetune.holdout: the few-shot days a chosen zero-shot scale is judged on (sampling.zeroShotScale). */
  feature: number;
  holdout: HoldoutKind;
  onProgress?: ProgressFn;
}): Promise<{ file: string; count: number; ms: number; outputScale: number }> {
  await initBackend();
  const gen = loadGenerator(o.generatorDir);
  try {
    const spec = loadPromptSpec(join(o.generatorDir, PROMPT_SPEC_FILE));
    const prompts = regionPrompts(o.city, spec, targetSplit(o.city, o.kDays).fewShot);
    const t0 = performance.now();
    // The scale follows the encoding the generator's bank trained with (its info.baseline): the city's
    // few-shot days choose it (sampling.zeroShotScale), as the pipeline's zero-shot row gets it.
    const baseline = String(gen.config.info?.['baseline'] ?? 'seasonal-ar') as BaselineKind;
    const modelName = gen.layout.modelName as ModelName;
    const raw = generateVectors(gen, prompts, o.sampling, o.seed, undefined, o.onProgress);
    const prep = zeroShotScaleChosen(o.sampling, baseline) ? prepareTarget(o.city, o.kDays, o.feature, baseline, o.holdout) : undefined;
    const outputScale = prep ? chooseZeroShotScale(createForecaster(modelName), prep, raw.map((_, i) => i), (r) => raw[r]!).scale : generatedOutputScale(o.sampling, baseline);
    const vectors = scaleGenerated(modelName, raw, outputScale);
    const ms = performance.now() - t0;
    const meta = { city: o.city.id, model: gen.layout.modelName, layoutHash: gen.layout.hash(), sampler: o.sampling.sampler };
    writeGenerated(o.out, vectors, vectors.map((_, i) => i), meta);
    writeJsonAtomic(o.out.replace(/\.safetensors$/, '') + '.json', { ...meta, regions: o.city.nodeIds, kDays: o.kDays, sampling: { ...o.sampling, outputScale }, seed: o.seed, ms });
    return { file: o.out, count: vectors.length, ms, outputScale };
  } finally {
    gen.dispose();
  }
}
