/**
 * Worker thread of the bank pool: its own tfjs wasm instance trains the region groups the main
 * thread hands it. Started by pool.ts with `--import tsx` (this file is TypeScript).
 *
 * Protocol (main -> worker): init {cities, model, config, seed, init, shared?, feature, baseline, encodingFitDays}, then
 * job {cityIndex, regions[]} any number of times, then exit.
 * (worker -> main): ready | progress {city, region, epoch, epochs} | result {result} (params
 * transferred) | jobDone | cancelled | error {message}.
 * Cancellation: main sets stopFlag[0] = 1 (a SharedArrayBuffer), checked before every training step.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../runtime/backend.js';
import type { City } from '../data/city.js';
import { Cancelled } from '../util/progress.js';
import type { BaselineKind } from '../data/encoding.js';
import { createForecaster, type ModelName } from '../models/registry.js';
import { prepareCity, type CityPrep } from '../train/dataset.js';
import { trainRegionJob, type InitKind } from './region-job.js';
import type { TrainOptions } from '../train/config.js';

export interface WorkerInit {
  cities: City[];
  model: ModelName;
  config: TrainOptions;
  seed: number;
  init: InitKind;
  shared?: Float32Array;
  feature: number;
  baseline: BaselineKind;
  /** null or absent: the encoding is fitted on the whole training part. */
  encodingFitDays?: number | null;
}

export type ToWorker = ({ type: 'init' } & WorkerInit) | { type: 'job'; cityIndex: number; regions: number[] } | { type: 'exit' };

const port = parentPort;
if (!port) throw new Error('bank worker must run in a worker thread');
const stopFlag = new Int32Array((workerData as { stopFlag: SharedArrayBuffer }).stopFlag);
const shouldStop = () => Atomics.load(stopFlag, 0) !== 0;

let setup: WorkerInit | null = null;
let model: ReturnType<typeof createForecaster> | null = null;
const preps = new Map<number, CityPrep>();
// Jobs run one after another even if messages arrive while one is training.
let queue: Promise<void> = Promise.resolve();

async function runJob(cityIndex: number, regions: number[]): Promise<void> {
  if (!setup || !model) throw new Error('bank worker: job before init');
  const city = setup.cities[cityIndex];
  if (!city) throw new Error(`bank worker: no city ${cityIndex}`);
  let prep = preps.get(cityIndex);
  if (!prep) {
    prep = prepareCity(city, setup.feature, setup.baseline, setup.encodingFitDays ?? undefined);
    preps.set(cityIndex, prep);
  }
  for (const region of regions) {
    if (shouldStop()) throw new Cancelled('bank build');
    const result = await trainRegionJob(
      { city, prep, model, config: setup.config, seed: setup.seed, init: setup.init, ...(setup.shared ? { shared: setup.shared } : {}) },
      region,
      { shouldStop, onEpoch: (epoch, epochs) => port!.postMessage({ type: 'progress', city: city.id, region, epoch, epochs }) },
    );
    port!.postMessage({ type: 'result', result }, [result.params.buffer as ArrayBuffer]);
  }
}

port.on('message', (msg: ToWorker) => {
  queue = queue.then(async () => {
    try {
      if (msg.type === 'init') {
        await initBackend();
        setup = msg;
        model = createForecaster(msg.model);
        port.postMessage({ type: 'ready' });
      } else if (msg.type === 'job') {
        await runJob(msg.cityIndex, msg.regions);
        port.postMessage({ type: 'jobDone' });
      } else if (msg.type === 'exit') {
        port.close();
      }
    } catch (err) {
      if (err instanceof Cancelled) port.postMessage({ type: 'cancelled' });
      else port.postMessage({ type: 'error', message: (err as Error).message, stack: (err as Error).stack });
    }
  });
});
