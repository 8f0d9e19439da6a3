/**
 * The transfer's job kind, `transfer-region`: every requested method fine-tuned (or not) and run on
 * one target region's test windows; for every model-based method the result also carries the model
 * (its parameter vector) and its score on the few-shot validation part, which the coordinator stores
 * in the region's evaluation file (eval-file.ts) for forecasting, serving and export. Regions are independent and each draws from its own seed stream
 * (`finetune:<city>:<region>`, then one labelled fork per method), so the regions can run in any order,
 * on worker threads or cluster workers, with the predictions of a sequential run, bit for bit.
 */
import type { ModelName } from '../models/registry.js';
import { generatedStartFor, type FinetuneConfig } from '../train/config.js';
import { Rng } from '../util/prng.js';
import { finetune } from '../train/finetune.js';
import { historicalAveragePredict } from '../baselines/historical-average.js';
import { lastValuePredict } from '../baselines/last-value.js';
import { pooledMetrics, predictWindows } from '../train/predict.js';
import { targetRegion, type TargetPrep } from '../train/target.js';
import { prescaleToTraining, scaleOutput } from '../train/calibrate.js';
import type { City } from '../data/city.js';
import type { JobHooks } from '../bank/jobs.js';
import { forecasterFor } from '../bank/region-payload.js';
import { sliceHistoricalAverage, sliceNormalizer, type RegionData } from '../bank/region-slice.js';
import { isModelMethod, type DerivedMethod, type Method, type ModelMethod } from './methods.js';
import type { ValidationScore } from './eval-file.js';

export const TRANSFER_REGION_JOB = 'transfer-region';

/**
 * A target region's random stream: its random init is the fork 'random-init', each fine-tuning the fork
 * of its method's label. The pseudo-target experiments draw the same, so their random init is this one.
 */
export function regionRng(seed: number, cityId: string, region: number): Rng {
  return new Rng(seed).fork(`finetune:${cityId}:${region}`);
}

export interface TransferRegionPayload {
  model: ModelName;
  /** The fine-tuning recipe (train/finetune.ts), resolved. */
  finetune: FinetuneConfig;
  /** The run's seed. */
  seed: number;
  methods: Method[];
  /** This region's initial vectors; `generated` as the generator returned it. */
  inits: { shared: Float32Array; bankMean: Float32Array; nearest: Float32Array; generated: Float32Array };
  /** sampling.outputScale: fine-tuned GPD's `scaled` start is the generated vector with its output layer scaled by it. */
  generatedScale: number;
  /** The zero-shot row's output scale (sampling.zeroShotScale: chosen per city on its few-shot days, or generatedScale). */
  zeroShotScale: number;
  data: RegionData<TargetPrep>;
}

export interface TransferRegionResult {
  /** [test windows x 6] per method, original units. */
  preds: Partial<Record<Method, Float32Array>>;
  /** The model behind each model-based method's predictions (ParamLayout order). */
  params: Partial<Record<ModelMethod, Float32Array>>;
  /** Each model's score on the few-shot validation windows, original units (NaN where nothing was observed). */
  validation: Partial<Record<ModelMethod, ValidationScore>>;
  /** Said once per region whose few-shot validation part holds no observed target. */
  warnings: string[];
}

/** A target's prep for a region slice's nodes (its channel becomes the slice's only one). */
export function sliceTargetPrep(prep: TargetPrep, nodes: number[], city: City): TargetPrep {
  const s = prep.split;
  return {
    city,
    split: { fewShot: { ...s.fewShot }, fewShotTrain: { ...s.fewShotTrain }, fewShotVal: { ...s.fewShotVal }, test: { ...s.test }, kDays: s.kDays },
    norm: sliceNormalizer(prep.norm, nodes),
    ha: sliceHistoricalAverage(prep.ha, nodes),
    feature: 0,
    holdout: { kind: prep.holdout.kind, train: { ...prep.holdout.train }, val: { ...prep.holdout.val } },
  };
}

export async function runTransferRegion(p: TransferRegionPayload, hooks: JobHooks = {}): Promise<TransferRegionResult> {
  const model = forecasterFor(p.model);
  const { city, prep, node, sub, region } = p.data;
  const { dataset, test } = targetRegion(prep, node, sub);
  const rng = regionRng(p.seed, city.id, region);
  const warnings: string[] = [];
  const tune = async (init: Float32Array, label: string) => {
    const { params, fit } = await finetune(model, init, dataset, p.finetune, rng.fork(label), {
      ...(hooks.shouldStop ? { shouldStop: hooks.shouldStop } : {}),
      ...(hooks.yieldEveryStep ? { yieldEveryStep: true } : {}),
    });
    if (!fit.validated && warnings.length === 0) {
      warnings.push(
        `${city.id} region ${p.data.regionId}: the few-shot validation part (${dataset.val.count} windows) has no observed target, ` +
          `so fine-tuning there ran all ${p.finetune.epochs} epochs and kept the last (no early stopping or shrinking)`,
      );
    }
    return params;
  };
  const ha = historicalAveragePredict(prep.ha, city, node, test);
  const randomInit = model.layout.init(rng.fork('random-init'));
  const { inits } = p;
  const scaled = scaleOutput(model, inits.generated, p.generatedScale);
  const validationMae = (params: Float32Array) => pooledMetrics(model, params, [dataset], 'val').mae;
  // Fine-tuned GPD's start (finetune.generatedStart): both share the method's random stream.
  const tuneGenerated = async () => {
    const start = generatedStartFor(p.finetune.generatedStart, prep.split.kDays);
    if (start !== 'validation') return tune(start === 'scaled' ? scaled : inits.generated, 'gpd');
    const fromScaled = await tune(scaled, 'gpd');
    const fromUnscaled = await tune(inits.generated, 'gpd');
    return validationMae(fromUnscaled) < validationMae(fromScaled) ? fromUnscaled : fromScaled;
  };
  // The forecasts of the methods without a network.
  const baselines: Record<Exclude<Method, ModelMethod | DerivedMethod>, () => Float32Array> = {
    ha: () => ha,
    last: () => lastValuePredict(city, node, prep.feature, test, ha),
    // A network that outputs zero: the baseline forecast every model corrects.
    seasonal_baseline: () => {
      if (!prep.norm.baseline) throw new Error('seasonal_baseline is scored only when the models have a baseline (data.baseline is none)');
      return test.yOffset.slice();
    },
  };
  // The model of every network method; only the requested ones run (ablations need just the GPD rows).
  const models: Record<ModelMethod, () => Promise<Float32Array> | Float32Array> = {
    target_only: () => tune(randomInit, 'target-only'),
    source_transfer: () => tune(inits.shared, 'source-transfer'),
    bank_mean: () => tune(inits.bankMean, 'bank-mean'),
    nearest_prompt: () => tune(inits.nearest, 'nearest-prompt'),
    gpd_zero_shot: () => scaleOutput(model, inits.generated, p.zeroShotScale),
    gpd: tuneGenerated,
    random_init: () => randomInit,
    bank_mean_zero_shot: () => inits.bankMean,
    source_transfer_zero_shot: () => inits.shared,
    nearest_prompt_zero_shot: () => inits.nearest,
    gpd_calibrated: () => prescaleToTraining(model, inits.generated, dataset).params,
    random_init_calibrated: () => prescaleToTraining(model, randomInit, dataset).params,
  };
  const out: TransferRegionResult = { preds: {}, params: {}, validation: {}, warnings };
  for (const [i, m] of p.methods.entries()) {
    if (isModelMethod(m)) {
      const params = await models[m]();
      out.params[m] = params;
      out.preds[m] = predictWindows(model, params, dataset.adjacency, dataset.n, test, dataset.norm);
      // The few-shot validation score, what a per-region choice between methods may look at (gpd-auto).
      const v = pooledMetrics(model, params, [dataset], 'val');
      out.validation[m] = { mae: v.mae, rmse: v.rmse };
    } else if (m === 'gpd_auto') {
      throw new Error('gpd_auto is derived by the coordinator from the two GPD rows; a region job does not compute it');
    } else {
      out.preds[m] = baselines[m]();
    }
    hooks.onProgress?.(i + 1, p.methods.length);
  }
  return out;
}
