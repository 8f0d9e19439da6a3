/**
 * Where forecasts are computed for the server: in the server's own thread, or in a pool of worker
 * threads (piscina) that each load the run's models once. A forecast is synchronous tfjs work, so in
 * the server's thread a request for many regions holds up every other request, health checks
 * included; the pool keeps the event loop free and runs as many forecasts at once as it has threads.
 */
import { Piscina } from 'piscina';
import { IN_STEPS } from '../data/task.js';
import { DEFAULT_FORECAST_METHOD, forecastRegions, loadRunModels, type ForecastResult, type RunModels } from '../transfer/forecast.js';
import { ForecastInputError, readingsFromJson } from '../transfer/forecast-input.js';
import { RunFolder } from '../transfer/run-folder.js';
import type { ForecastRequest, RegionsResponse } from './schemas.js';

export interface ForecastEngine {
  readonly info: RegionsResponse;
  /** Threads computing forecasts (0 = the server's own). */
  readonly workers: number;
  forecast(req: ForecastRequest): Promise<ForecastResult>;
  close(): Promise<void>;
}

/** What a worker sends back: a forecast, or a user error with its path (errors do not cross threads intact). */
export type WorkerReply = { ok: ForecastResult } | { inputError: { message: string; path: (string | number)[] } };

/** One request on loaded models; default regions: every region of the run the readings name. */
export function runForecast(models: RunModels, req: ForecastRequest): ForecastResult {
  const readings = readingsFromJson(models.target, req);
  const regions = req.regions ?? models.target.regions.filter((g) => g.id in req.readings).map((g) => g.id);
  if (regions.length === 0) throw new ForecastInputError('`readings` names no region of the run; see GET /v1/regions', ['readings']);
  return forecastRegions(models, readings, { regions, ...(req.method ? { method: req.method } : {}) });
}

export function replyOf(models: RunModels, req: ForecastRequest): WorkerReply {
  try {
    return { ok: runForecast(models, req) };
  } catch (err) {
    if (err instanceof ForecastInputError) return { inputError: { message: err.message, path: err.path } };
    throw err;
  }
}

function infoOf(models: Pick<RunModels, 'target' | 'methods'>): RegionsResponse {
  const t = models.target;
  return {
    city: t.cityId,
    intervalMinutes: t.intervalMinutes,
    units: t.json.city.units,
    methods: models.methods,
    defaultMethod: models.methods.includes(DEFAULT_FORECAST_METHOD) ? DEFAULT_FORECAST_METHOD : models.methods[0]!,
    inputSteps: IN_STEPS,
    regions: t.regions.map((g) => ({ id: g.id, neighbours: g.nodes.slice(1).map((n) => t.nodeIds[n]!) })),
  };
}

export function localEngine(runDir: string): ForecastEngine {
  const models = loadRunModels(runDir);
  return {
    info: infoOf(models),
    workers: 0,
    forecast: async (req) => runForecast(models, req),
    close: async () => {},
  };
}

const WORKER_ENTRY = new URL('./pool-entry.mjs', import.meta.url).href;

export async function poolEngine(runDir: string, threads: number): Promise<ForecastEngine> {
  // The main thread checks the run and answers /v1/regions; the workers hold the models.
  const models = loadRunModels(runDir);
  const info = infoOf(models);
  // stricterFIFO: by default piscina puts a queued task it could not hand out back at the tail, which
  // under sustained load (64 connections on one worker) let some requests wait 10+ s while others
  // overtook them (p50 0.3 s, p99 12 s measured); at the head the queue is first come, first served.
  const pool = new Piscina({ filename: WORKER_ENTRY, minThreads: threads, maxThreads: threads, idleTimeout: Infinity, stricterFIFO: true, workerData: { runDir: new RunFolder(runDir).dir } });
  // Every thread loads the models before the server listens (a first request should not pay for it).
  await Promise.all(Array.from({ length: threads }, () => pool.run({ warmup: true })));
  return {
    info,
    workers: threads,
    forecast: async (req) => {
      const reply = (await pool.run(req)) as WorkerReply;
      if ('inputError' in reply) throw new ForecastInputError(reply.inputError.message, reply.inputError.path);
      return reply.ok;
    },
    close: () => pool.destroy(),
  };
}

export async function createEngine(runDir: string, workers: number): Promise<ForecastEngine> {
  return workers > 0 ? poolEngine(runDir, workers) : localEngine(runDir);
}
