/**
 * Spreads region groups over worker threads (one tfjs wasm instance each; the wasm backend is
 * single-threaded under Node, so W workers use W cores). Workers pull the next group when they finish
 * one, so uneven regions balance out. Results come back as they finish (vectors transferred, not
 * copied) and the caller stores each at once, which is what makes an interrupted build resumable.
 */
import { Worker } from 'node:worker_threads';
import { Cancelled } from '../util/progress.js';
import type { ToWorker, WorkerInit } from './worker.js';
import type { RegionResult } from './region-job.js';

export interface JobGroup {
  cityIndex: number;
  regions: number[];
}

export interface WorkerProgress {
  city: string;
  region: number;
  epoch: number;
  epochs: number;
}

export interface PoolOptions {
  workers: number;
  init: WorkerInit;
  groups: JobGroup[];
  signal?: AbortSignal;
  onResult: (r: RegionResult, lane: number) => void;
  onProgress?: (lane: number, p: WorkerProgress) => void;
}

type FromWorker =
  | { type: 'ready' }
  | { type: 'jobDone' }
  | { type: 'cancelled' }
  | { type: 'progress'; city: string; region: number; epoch: number; epochs: number }
  | { type: 'result'; result: RegionResult }
  | { type: 'error'; message: string; stack?: string };

const WORKER_URL = new URL('./worker.ts', import.meta.url);

/**
 * Start the TypeScript worker. `execArgv: ['--import', 'tsx']` does not work for a worker's entry
 * point on Node 20 ("Unknown file extension .ts", measured on 20.20), whether the parent was started
 * with `node --import tsx` or registered tsx through its API; so a tiny ESM bootstrap (a data: URL)
 * registers tsx inside the worker first and then imports worker.ts.
 */
function startWorker(stopFlag: SharedArrayBuffer): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const code = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(WORKER_URL.href)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: { stopFlag } });
}

export async function runPool(opts: PoolOptions): Promise<void> {
  const pending = [...opts.groups];
  const count = Math.min(Math.max(1, Math.floor(opts.workers)), pending.length);
  if (count === 0) return;
  const stopFlag = new SharedArrayBuffer(4);
  const stop = new Int32Array(stopFlag);
  const workers: Worker[] = [];
  const current: (JobGroup | null)[] = [];

  await new Promise<void>((resolve, reject) => {
    let finished = 0;
    let failure: Error | null = null;
    let cancelled = false;
    const laneDone = new Array<boolean>(count).fill(false);

    const finishLane = (lane: number) => {
      if (laneDone[lane]) return;
      laneDone[lane] = true;
      finished++;
      if (finished === count) {
        for (const w of workers) void w.terminate();
        if (failure) reject(failure);
        else if (cancelled) reject(new Cancelled('bank build'));
        else resolve();
      }
    };
    const fail = (err: Error) => {
      if (!failure) failure = err;
      Atomics.store(stop, 0, 1);
      // Other lanes stop at their next step and report 'cancelled'; a failed lane is done now.
    };
    const onAbort = () => {
      cancelled = true;
      Atomics.store(stop, 0, 1);
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const dispatch = (lane: number) => {
      const w = workers[lane]!;
      const next = failure || cancelled ? undefined : pending.shift();
      current[lane] = next ?? null;
      if (next) w.postMessage({ type: 'job', cityIndex: next.cityIndex, regions: next.regions } satisfies ToWorker);
      else {
        w.postMessage({ type: 'exit' } satisfies ToWorker);
        finishLane(lane);
      }
    };

    for (let lane = 0; lane < count; lane++) {
      const w = startWorker(stopFlag);
      workers.push(w);
      current.push(null);
      w.on('message', (msg: FromWorker) => {
        try {
          if (msg.type === 'ready' || msg.type === 'jobDone') dispatch(lane);
          else if (msg.type === 'progress') opts.onProgress?.(lane, msg);
          else if (msg.type === 'result') opts.onResult(msg.result, lane);
          else if (msg.type === 'cancelled') finishLane(lane);
          else if (msg.type === 'error') {
            const g = current[lane];
            const where = g ? ` (city #${g.cityIndex}, regions ${g.regions.join(',')})` : '';
            fail(new Error(`bank worker ${lane}${where}: ${msg.message}`));
            finishLane(lane);
          }
        } catch (err) {
          // onResult failed (e.g. the disk is full): stop everything and report it.
          fail(err as Error);
        }
      });
      w.on('error', (err) => {
        fail(new Error(`bank worker ${lane} crashed: ${err.message}`));
        finishLane(lane);
      });
      w.on('exit', (code) => {
        if (!laneDone[lane]) {
          fail(new Error(`bank worker ${lane} exited with code ${code} before finishing`));
          finishLane(lane);
        }
      });
      w.postMessage({ type: 'init', ...opts.init } satisfies ToWorker);
    }
  }).finally(() => {
    for (const w of workers) void w.terminate();
  });
}
