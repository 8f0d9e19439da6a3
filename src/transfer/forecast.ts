/**
 * Forecasting with a finished run's models: the next 6 steps of every scored region from its last 12
 * readings, in original units. The run's models (eval files, transfer/eval-file.ts) and the encoding
 * they were trained with (target.json, transfer/target-file.ts) are read once; a region's window is
 * built by the same regionWindows the evaluation used, run through the same predictWindows and bounded
 * by the same few-shot correction range (train/correction-bound.ts), so a forecast of a test-period
 * window equals the prediction the evaluation scored
 * (test/transfer/forecast.test.ts).
 */
import { type City } from '../data/city.js';
import { ArtefactError } from '../util/errors.js';
import { IN_STEPS, OUT_STEPS } from '../data/task.js';
import { regionWindows } from '../data/windows.js';
import { createForecaster } from '../models/registry.js';
import type { Forecaster } from '../models/types.js';
import { predictWindows } from '../train/predict.js';
import { boundForecasts } from '../train/correction-bound.js';
import { readEvalRegion, type ValidationScore } from './eval-file.js';
import { MODEL_METHODS, type ModelMethod } from './evaluate.js';
import { gpdAutoChoice } from './methods.js';
import { ForecastInputError, stepName, stepTime, type RecentReadings } from './forecast-input.js';
import { RunFolder } from './run-folder.js';
import type { GpdConfig } from '../config/schema.js';
import { readTargetFile, type TargetContext, type TargetRegionGraph } from './target-file.js';

/** Per region, fine-tuned GPD or GPD zero-shot, whichever scored the lower MAE on the few-shot validation part. */
export const GPD_AUTO = 'gpd-auto';
export type ForecastMethod = ModelMethod | typeof GPD_AUTO;
export const DEFAULT_FORECAST_METHOD: ForecastMethod = 'gpd';

export interface RunModels {
  runDir: string;
  /** The run's configuration (its synthetic generator settings resolve `synthetic:` readings). */
  config: GpdConfig;
  model: Forecaster;
  target: TargetContext;
  /** Methods with a model for every scored region, plus gpd-auto when both GPD rows have them. */
  methods: ForecastMethod[];
  regionOf: Map<string, TargetRegionGraph>;
  params(method: ModelMethod, region: number): Float32Array;
  validation(region: number): Partial<Record<ModelMethod, ValidationScore>>;
}

/** A region's evaluation file; a damaged one is named with the command that recomputes it. */
function readRegionModels(file: string, rerun: string): ReturnType<typeof readEvalRegion> {
  try {
    return readEvalRegion(file);
  } catch (err) {
    if (err instanceof ArtefactError && err.fix === undefined) throw err.withFix(`delete ${file} and ${rerun}`);
    throw err;
  }
}

/** A finished run's models and encoding, loaded once. */
export function loadRunModels(runDir: string): RunModels {
  const run = new RunFolder(runDir);
  const { config, command } = run.readConfig();
  const rerun = `rerun \`${command ?? `gpd transfer --out ${run.dir}`}\` (with the run's settings) to score that region again`;
  if (!run.isFinished()) throw new ArtefactError(run.path('results'), `${run.dir} is not a finished run (no results.json)`, run.finishHint());
  const target = readTargetFile(run.path('target'));
  const model = createForecaster(config.bank.model);
  const params = new Map<ModelMethod, Map<number, Float32Array>>();
  const validation = new Map<number, Partial<Record<ModelMethod, ValidationScore>>>();
  for (const r of target.regions) {
    const saved = readRegionModels(run.evalRegion(r.region), rerun);
    for (const [m, p] of Object.entries(saved.params)) {
      if (p.length !== model.layout.size) {
        throw new ArtefactError(run.evalRegion(r.region), `${run.evalRegion(r.region)}: "${m}" holds ${p.length} parameters, ${model.name} needs ${model.layout.size}`, `delete ${run.path('eval')} and rerun \`gpd transfer\` with the same settings`);
      }
      if (!params.has(m as ModelMethod)) params.set(m as ModelMethod, new Map());
      params.get(m as ModelMethod)!.set(r.region, p);
    }
    validation.set(r.region, saved.validation as Partial<Record<ModelMethod, ValidationScore>>);
  }
  const complete = MODEL_METHODS.filter((m) => target.regions.every((r) => params.get(m)?.has(r.region)));
  const methods: ForecastMethod[] = [...complete];
  if (complete.includes('gpd') && complete.includes('gpd_zero_shot')) methods.push(GPD_AUTO);
  if (methods.length === 0) {
    throw new ArtefactError(run.path('eval'), `${run.dir}: no scored region has a stored model (was it evaluated by an older gpd?)`, `delete ${run.path('eval')} and rerun \`gpd transfer\` with the same settings`);
  }
  return {
    runDir: run.dir,
    config,
    model,
    target,
    methods,
    regionOf: new Map(target.regions.map((r) => [r.id, r])),
    params: (m, region) => params.get(m)!.get(region)!,
    validation: (region) => validation.get(region) ?? {},
  };
}

/** The method to forecast with: the requested one if the run has it (named error otherwise), else gpd. */
export function resolveForecastMethod(models: RunModels, requested?: string): ForecastMethod {
  const m = requested ?? DEFAULT_FORECAST_METHOD;
  if (!(models.methods as string[]).includes(m)) {
    throw new ForecastInputError(`method "${m}" has no models in ${models.runDir}; available: ${models.methods.join(', ')}`, ['method']);
  }
  return m as ForecastMethod;
}

/** gpd-auto's choice for one region: zero-shot only when its validation MAE is strictly lower. */
export function autoChoice(models: RunModels, region: number): ModelMethod {
  return gpdAutoChoice(models.validation(region));
}

export interface StepForecast {
  horizon: number;
  /** ISO time (UTC clock), or null when the readings have no timestamps. */
  time: string | null;
  /** Step index in the readings' own series, when they have no timestamps. */
  step?: number;
  value: number;
}

export interface RegionForecast {
  region: string;
  method: ModelMethod;
  steps: StepForecast[];
}

export interface ForecastResult {
  city: string;
  method: ForecastMethod;
  intervalMinutes: number;
  units: string | null;
  /** Time (or step name) of the last reading used. */
  lastReading: string;
  forecasts: RegionForecast[];
}

/**
 * A City holding only what one forecast window reads: the 12 input steps and 6 masked future steps
 * of the run's nodes, under the run target's id (the encoding's baseline is keyed to it). Without
 * timestamps it starts at step 0 of the readings' own clock, so time of day is what it was there.
 */
function windowCity(ctx: TargetContext, r: RecentReadings): { city: City; start: number } {
  const N = ctx.nodeIds.length;
  const F = ctx.feature + 1;
  const start = r.timestamps ? 0 : r.stepOffset;
  const T = start + IN_STEPS + OUT_STEPS;
  const series = new Float32Array(T * N * F);
  const mask = new Uint8Array(T * N * F);
  for (let k = 0; k < IN_STEPS; k++) {
    for (let n = 0; n < N; n++) {
      const v = r.values[k * N + n]!;
      if (Number.isNaN(v)) continue;
      const i = ((start + k) * N + n) * F + ctx.feature;
      series[i] = v;
      mask[i] = 1;
    }
  }
  const city: City = { id: ctx.cityId, intervalMinutes: ctx.intervalMinutes, nodeIds: ctx.nodeIds, T, N, F, series, mask, adjacency: new Float32Array(0), attributes: {} };
  if (ctx.day) city.day = ctx.day;
  if (r.timestamps) {
    const last = r.timestamps[IN_STEPS - 1]!;
    city.timestamps = Float64Array.from({ length: T }, (_, t) => (t < IN_STEPS ? r.timestamps![t]! : stepTime(last, t - IN_STEPS + 1, ctx.intervalMinutes, ctx.day)));
  }
  return { city, start };
}

/** Every subgraph node must be supplied and observed at all 12 steps: the models were not asked to fill gaps here. */
function checkRegionInputs(ctx: TargetContext, r: RecentReadings, g: TargetRegionGraph): void {
  const N = ctx.nodeIds.length;
  for (const node of g.nodes) {
    const id = ctx.nodeIds[node]!;
    const role = node === g.region ? `region "${g.id}"` : `neighbour "${id}" of region "${g.id}"`;
    if (!r.present[node]) throw new ForecastInputError(`${r.source} has no readings of ${role} (the region's model reads ${g.nodes.map((i) => `"${ctx.nodeIds[i]}"`).join(', ')})`, ['readings', id]);
    for (let k = 0; k < IN_STEPS; k++) {
      const v = r.values[k * N + node]!;
      if (!Number.isFinite(v)) {
        throw new ForecastInputError(`${r.source}: ${role} has no ${Number.isNaN(v) ? '' : 'finite '}reading at ${stepName(r, k)} (one of the last ${IN_STEPS} steps the model reads)`, ['readings', id, k]);
      }
    }
  }
}

export interface ForecastOptions {
  method?: string;
  /** Region (node) ids to forecast; default every scored region of the run. */
  regions?: string[];
}

export function forecastRegions(models: RunModels, readings: RecentReadings, opts: ForecastOptions = {}): ForecastResult {
  const ctx = models.target;
  const method = resolveForecastMethod(models, opts.method);
  const graphs = (opts.regions ?? ctx.regions.map((g) => g.id)).map((id, i) => {
    const g = models.regionOf.get(id);
    if (!g) throw new ForecastInputError(`"${id}" is not a region with a model in ${models.runDir} (${ctx.regions.length} scored regions, e.g. ${ctx.regions.slice(0, 3).map((x) => `"${x.id}"`).join(', ')})`, ['regions', i]);
    return g;
  });
  for (const g of graphs) checkRegionInputs(ctx, readings, g);
  const { city, start } = windowCity(ctx, readings);
  const range = { start, end: start + IN_STEPS + OUT_STEPS };
  const forecasts = graphs.map((g): RegionForecast => {
    const m = method === GPD_AUTO ? autoChoice(models, g.region) : method;
    const w = regionWindows(city, { center: g.region, nodes: g.nodes, n: g.n, adjacency: g.adjacency }, range, ctx.norm);
    const raw = predictWindows(models.model, models.params(m, g.region), g.adjacency, g.n, w, ctx.norm);
    const pred = boundForecasts(raw, w, ctx.norm.std, g.correction, models.config.data.correctionBound);
    const steps = Array.from({ length: OUT_STEPS }, (_, h): StepForecast => {
      const t = start + IN_STEPS + h;
      return readings.timestamps
        ? { horizon: h + 1, time: new Date(city.timestamps![t]!).toISOString(), value: pred[h]! }
        : { horizon: h + 1, time: null, step: t, value: pred[h]! };
    });
    return { region: g.id, method: m, steps };
  });
  const units = ctx.json.city.units;
  return { city: ctx.cityId, method, intervalMinutes: ctx.intervalMinutes, units, lastReading: stepName(readings, IN_STEPS - 1), forecasts };
}

/** Long CSV, one row per region and horizon. */
export function forecastCsv(r: ForecastResult): string {
  const rows = ['region,horizon,time,value,method'];
  const cell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  for (const f of r.forecasts) for (const s of f.steps) rows.push([cell(f.region), s.horizon, s.time ?? `step ${s.step}`, s.value, f.method].join(','));
  return rows.join('\n') + '\n';
}
