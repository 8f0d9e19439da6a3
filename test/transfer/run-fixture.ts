// A small finished run folder made in seconds by the real evaluation code (not a test file itself):
// config.json, target.json, eval/ (predictions, models, validation scores) and results.json, as
// `gpd transfer` writes them, with a random "generated" vector per region instead of a trained generator.
import { initBackend } from '../../src/runtime/backend.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveCity, syntheticDefaultsOf } from '../../src/data/resolve.js';
import type { City } from '../../src/data/city.js';
import { createForecaster } from '../../src/models/registry.js';
import { prepareTarget, type TargetPrep } from '../../src/train/target.js';
import { chooseTargetRegions } from '../../src/transfer/pipeline.js';
import { evaluateTarget, METHOD_LABELS, type Method, type RegionPredictions } from '../../src/transfer/evaluate.js';
import { RunFolder } from '../../src/transfer/run-folder.js';
import { writeTargetFile } from '../../src/transfer/target-file.js';
import type { GpdConfig } from '../../src/config/schema.js';
import { Rng } from '../../src/util/prng.js';

export const FIXTURE_SETTINGS = ['data.syntheticNodes=6', 'data.syntheticDays=10', 'data.maxTargetRegions=4', 'finetune.epochs=2', 'finetune.minStepsPerEpoch=4'];
export const FIXTURE_METHODS: Method[] = ['ha', 'seasonal_baseline', 'gpd_zero_shot', 'gpd', 'random_init'];

export interface RunFixture {
  dir: string;
  config: GpdConfig;
  target: City;
  prep: TargetPrep;
  regions: number[];
  predictions: RegionPredictions[];
}

export async function makeRunFixture(dir: string, extra: string[] = [], scored: Method[] = FIXTURE_METHODS): Promise<RunFixture> {
  await initBackend();
  const config = loadConfig(undefined, [...FIXTURE_SETTINGS, ...extra]);
  const target = resolveCity(config.data.target, syntheticDefaultsOf(config.data));
  const prep = prepareTarget(target, config.data.kDays, config.data.feature, config.data.baseline, config.finetune.holdout);
  const regions = chooseTargetRegions(target.N, config.data.maxTargetRegions, config.seed);
  const model = createForecaster(config.bank.model);
  // A "generated" model per region whose correction is several times too large, as transferred ones are.
  const generated = new Map(regions.map((r) => {
    const v = model.layout.init(new Rng(3).fork(`generated:${r}`));
    model.layout.view(v, model.outputLayer).forEach((x, i, a) => (a[i] = x * 20));
    return [r, v];
  }));
  const run = new RunFolder(dir);
  run.writeConfig(config, { command: 'test fixture', versions: {}, backend: 'wasm' });
  writeTargetFile(run.path('target'), prep, regions);
  const { scores, predictions } = await evaluateTarget({
    model,
    prep,
    regions,
    inits: { shared: generated.get(regions[0]!)!, bankMean: generated.get(regions[0]!)!, nearest: (r) => generated.get(r)!, generated: (r) => generated.get(r)! },
    finetune: config.finetune,
    seed: config.seed,
    regionFile: (r) => run.evalRegion(r),
    methods: scored,
  });
  const methods = Object.fromEntries(scores.methods().map((m) => {
    const r = scores.result(m).metrics;
    return [m, { mae: r.maeMean, rmse: r.rmseMean, mape: r.mapeMean, maeByHorizon: r.mae, rmseByHorizon: r.rmse }];
  }));
  run.writeResults({
    target: target.id,
    sources: ['synth-a', 'synth-b', 'synth-c'],
    model: config.bank.model,
    kDays: config.data.kDays,
    conditioning: config.diffusion.conditioning,
    sampler: config.sampling.sampler,
    samplerSteps: config.sampling.steps,
    seed: config.seed,
    regionsScored: regions.length,
    regionsTotal: target.N,
    methods,
    labels: METHOD_LABELS,
  });
  return { dir: run.dir, config, target, prep, regions, predictions };
}
