/**
 * Worker threads for region jobs, one tfjs wasm instance each (the wasm backend is single-threaded
 * under Node, so W threads use W cores).
 *
 * `ThreadPool` keeps a fixed number of lanes, each a thread that runs one job at a time; a lane whose
 * thread died is restarted by its next job. `runPool` is a batch on top of it: lanes pull the next
 * group of jobs when they finish one, so uneven regions balance out, results come back as they finish
 * (vectors transferred, not copied) and the caller stores each at once, which is what makes an
 * interrupted build resumable. The first failure stops every lane.
 */
import { Worker } from 'node:worker_threads';
import { Cancelled } from '../util/progress.js';
import type { RegionJob } from './jobs.js';
import type { ToThread } from './thread-host.js';

type FromThread =
  | { type: 'ready'; backend: string }
  | { type: 'fatal'; message: string }
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'cancelled'; id: number }
  | { type: 'error'; id: number; message: string; stack?: string };

/**
 * Start a TypeScript thread entry. `execArgv: ['--import', 'tsx']` does not work for a worker's entry
 * point on Node 20 ("Unknown file extension .ts", measured on 20.20), whether the parent was started
 * with `node --import tsx` or registered tsx through its API; so a tiny ESM bootstrap (a data: URL)
 * registers tsx inside the worker first and then imports the entry.
 */
function startThread(entry: URL, stopFlags: SharedArrayBuffer, lane: number): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const code = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(entry.href)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: { stopFlags, lane } });
}

interface Running {
  id: number;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
  onProgress?: (done: number, total: number) => void;
}

interface Lane {
  worker: Worker;
  ready: Promise<string>;
  running: Running | null;
  dead: boolean;
}

export class ThreadPool {
  private readonly lanes: Lane[] = [];
  private readonly stop: Int32Array;
  private readonly stopFlags: SharedArrayBuffer;
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly entry: URL,
    readonly size: number,
  ) {
    this.stopFlags = new SharedArrayBuffer(4 * size);
    this.stop = new Int32Array(this.stopFlags);
  }

  /** Start `size` threads of `entry` (a file calling serveJobs) and wait until each has its backend. */
  static async start(entry: URL, size: number): Promise<ThreadPool> {
    const pool = new ThreadPool(entry, Math.max(1, Math.floor(size)));
    for (let lane = 0; lane < pool.size; lane++) pool.lanes.push(pool.spawn(lane));
    try {
      await Promise.all(pool.lanes.map((l) => l.ready));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** The tensor backend the threads run (the same for all: one process, one environment). */
  async backend(): Promise<string> {
    return this.lanes[0]!.ready;
  }

  private spawn(index: number): Lane {
    const worker = startThread(this.entry, this.stopFlags, index);
    let onReady: (backend: string) => void = () => {};
    let onFail: (err: Error) => void = () => {};
    const ready = new Promise<string>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    ready.catch(() => {});
    const lane: Lane = { worker, ready, running: null, dead: false };
    const die = (err: Error) => {
      if (lane.dead) return;
      lane.dead = true;
      onFail(err);
      const r = lane.running;
      lane.running = null;
      r?.reject(err);
    };
    worker.on('message', (msg: FromThread) => {
      if (msg.type === 'ready') return onReady(msg.backend);
      if (msg.type === 'fatal') return die(new Error(`worker thread ${index} could not start: ${msg.message}`));
      const r = lane.running;
      if (!r || r.id !== msg.id) return;
      if (msg.type === 'progress') {
        r.onProgress?.(msg.done, msg.total);
        return;
      }
      lane.running = null;
      if (msg.type === 'result') r.resolve(msg.result);
      else if (msg.type === 'cancelled') r.reject(new Cancelled());
      else {
        const err = new Error(msg.message);
        if (msg.stack) err.stack = msg.stack;
        r.reject(err);
      }
    });
    worker.on('error', (err) => die(new Error(`worker thread ${index} crashed: ${err.message}`)));
    worker.on('exit', (code) => die(new Error(`worker thread ${index} exited with code ${code}`)));
    return lane;
  }

  /** Run one job on an idle lane; rejects with the job's error, Cancelled, or the thread's crash. */
  async run(index: number, job: { kind: string; payload: unknown }, onProgress?: (done: number, total: number) => void): Promise<unknown> {
    if (this.closed) throw new Error('thread pool is closed');
    let lane = this.lanes[index];
    if (!lane) throw new Error(`no lane ${index} (pool of ${this.size})`);
    if (lane.running) throw new Error(`lane ${index} is busy`);
    if (lane.dead) {
      lane = this.spawn(index);
      this.lanes[index] = lane;
    }
    await lane.ready;
    Atomics.store(this.stop, index, 0);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      lane.running = { id, resolve, reject, ...(onProgress ? { onProgress } : {}) };
      lane.worker.postMessage({ type: 'job', id, kind: job.kind, payload: job.payload } satisfies ToThread);
    });
  }

  /** Ask the jobs running now to stop at their next step (they reject with Cancelled). */
  stopAll(): void {
    for (let i = 0; i < this.size; i++) Atomics.store(this.stop, i, 1);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.lanes.map(async (l) => {
        l.dead = true;
        await l.worker.terminate();
      }),
    );
  }
}

export interface PoolOptions<P, R> {
  /** Names the pool in errors ("bank worker 0 (synth-a region 3): ..."). */
  name: string;
  workers: number;
  /** A thread entry file calling serveJobs with the jobs' kinds. */
  entry: URL;
  /** Each group goes to one thread, its jobs one after another. */
  groups: RegionJob<P>[][];
  signal?: AbortSignal;
  /** What a Cancelled error names ("bank build"). */
  what?: string;
  onResult: (job: RegionJob<P>, result: R, lane: number) => void;
  onProgress?: (lane: number, job: RegionJob<P>, done: number, total: number) => void;
}

export async function runPool<P, R>(opts: PoolOptions<P, R>): Promise<void> {
  const pending = [...opts.groups];
  const count = Math.min(Math.max(1, Math.floor(opts.workers)), pending.length);
  if (count === 0) return;
  const pool = await ThreadPool.start(opts.entry, count);
  let failure: Error | null = null;
  let cancelled = false;
  const onAbort = () => {
    cancelled = true;
    pool.stopAll();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const lane = async (index: number) => {
    for (let group = pending.shift(); group && !failure && !cancelled; group = pending.shift()) {
      for (const job of group) {
        if (failure || cancelled) return;
        try {
          const result = (await pool.run(index, { kind: job.kind, payload: job.payload() }, (done, total) => opts.onProgress?.(index, job, done, total))) as R;
          // onResult failing (e.g. the disk is full) stops everything like a failed job.
          opts.onResult(job, result, index);
        } catch (err) {
          if (err instanceof Cancelled && (cancelled || failure)) return;
          failure ??= new Error(`${opts.name} worker ${index} (${job.label}): ${(err as Error).message}`);
          pool.stopAll();
          return;
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: count }, (_, i) => lane(i)));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await pool.close();
  }
  if (failure) throw failure;
  if (cancelled) throw new Cancelled(opts.what);
}
