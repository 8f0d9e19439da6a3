/**
 * The diffusion stage on its own, for `gpd diffusion train|sample`: train a generator from an
 * existing bank, and sample models for any city from a generator folder alone.
 */
import { join, resolve } from 'node:path';
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';
import { targetSplit } from '../data/splits.js';
import type { GpdConfig } from '../config/schema.js';
import { loadBank } from '../bank/store.js';
import { fitPromptSpec, regionPrompts, loadPromptSpec } from '../prompts/build.js';
import { loadGenerator } from '../diffusion/generator.js';
import { writeSafetensors } from '../util/safetensors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { ProgressFn } from '../util/progress.js';
import { initBackend } from '../runtime/backend.js';
import { trainGenerator, selectPrompts, bankEntryPrompts, PROMPT_SPEC_FILE } from './generate.js';
import { createForecaster } from '../models/registry.js';

export async function trainGeneratorFromBank(o: { bankDir: string; sources: City[]; config: GpdConfig; out: string; signal?: AbortSignal; onProgress?: ProgressFn }): Promise<string> {
  await initBackend();
  const bank = loadBank(o.bankDir);
  if (!bank.complete) throw new DataError(`bank ${o.bankDir} is incomplete; finish it with \`gpd bank build\` (it resumes)`);
  const byId = new Map(o.sources.map((c) => [c.id, c]));
  for (const c of bank.index.cities) {
    if (!byId.has(c.id)) throw new DataError(`bank ${o.bankDir} holds city ${c.id}; pass it with --city so its prompts can be built`);
  }
  const cities = bank.index.cities.map((c) => byId.get(c.id)!);
  const spec = await fitPromptSpec(cities, { feature: o.config.data.feature, ...(o.config.prompts.temporal === 'mae' ? { mae: true } : {}) });
  const prompts = bankEntryPrompts(bank, cities, spec);
  const model = createForecaster(bank.settings.model);
  const { generator } = await trainGenerator({
    layout: model.layout,
    vectors: bank.vectors,
    prompts,
    config: o.config,
    dir: o.out,
    seed: o.config.seed,
    promptSpec: spec,
    info: { bank: resolve(o.bankDir), sources: cities.map((c) => c.id), baseline: bank.settings.baseline },
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  generator.dispose();
  return o.out;
}

/** Generate one model per region of `city` from its few-shot days; writes vectors + an index. */
export async function sampleForCity(o: {
  generatorDir: string;
  city: City;
  kDays: number;
  sampling: GpdConfig['sampling'];
  seed: number;
  out: string;
  onProgress?: ProgressFn;
}): Promise<{ file: string; count: number; ms: number }> {
  await initBackend();
  const gen = loadGenerator(o.generatorDir);
  try {
    const spec = loadPromptSpec(join(o.generatorDir, PROMPT_SPEC_FILE));
    const split = targetSplit(o.city, o.kDays);
    const p = regionPrompts(o.city, spec, split.fewShot);
    const c = gen.config.prompts;
    const use = selectPrompts(p, c.spatial.dim > 0, c.temporal.dim > 0);
    const t0 = performance.now();
    const vectors = gen.generate(
      { ...(use.spatial ? { spatial: use.spatial } : {}), ...(use.temporal ? { temporal: use.temporal } : {}) },
      {
        sampler: o.sampling.sampler,
        steps: o.sampling.steps,
        eta: o.sampling.eta,
        guidance: o.sampling.guidance,
        seed: o.seed,
        onStep: (i, total) => o.onProgress?.({ task: 'generate', done: i, total }),
      },
    );
    const ms = performance.now() - t0;
    const P = gen.layout.size;
    const flat = new Float32Array(vectors.length * P);
    vectors.forEach((v, i) => flat.set(v, i * P));
    writeSafetensors(o.out, { vectors: { dtype: 'F32', shape: [vectors.length, P], data: flat } }, { city: o.city.id, model: gen.layout.modelName, layoutHash: gen.layout.hash(), sampler: o.sampling.sampler });
    writeJsonAtomic(o.out.replace(/\.safetensors$/, '') + '.json', { city: o.city.id, regions: o.city.nodeIds, model: gen.layout.modelName, layoutHash: gen.layout.hash(), kDays: o.kDays, sampling: o.sampling, seed: o.seed, ms });
    return { file: o.out, count: vectors.length, ms };
  } finally {
    gen.dispose();
  }
}
