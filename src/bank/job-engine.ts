/**
 * The local job engine: region jobs in the calling thread (workers = 0) or on a pool of worker
 * threads (bank/pool.ts). The default of `gpd bank build` and `gpd transfer`; it needs nothing but
 * this process. A cluster engine (src/cluster/) runs the same jobs through Redis.
 */
import { throwIfAborted } from '../util/progress.js';
import type { JobEngine, JobFailure, JobHandlers, JobRun, RegionJob } from './jobs.js';
import { runPool } from './pool.js';

export interface LocalEngineOptions {
  /** Worker threads; 0 runs every job in the calling thread. */
  workers: number;
  /** Names the pool in errors ("bank" -> "bank worker 0 (...)"). */
  name: string;
  /** The thread entry (a file calling serveJobs with `handlers`' kinds). */
  entry: URL;
  /** The same kinds, for running in the calling thread. */
  handlers: JobHandlers;
}

/** Groups of `size` jobs in order (a thread takes one group at a time). */
export function groupJobs<P>(jobs: RegionJob<P>[], size: number): RegionJob<P>[][] {
  const groups: RegionJob<P>[][] = [];
  for (let i = 0; i < jobs.length; i += size) groups.push(jobs.slice(i, i + size));
  return groups;
}

export function localJobEngine(o: LocalEngineOptions): JobEngine {
  return {
    async run<P, R>(run: JobRun<P, R>): Promise<JobFailure[]> {
      if (run.jobs.length === 0) return [];
      if (o.workers === 0) {
        for (const job of run.jobs) {
          throwIfAborted(run.signal, run.what);
          const handler = o.handlers[job.kind] as ((payload: P, hooks: object) => Promise<R>) | undefined;
          if (!handler) throw new Error(`no handler for "${job.kind}" jobs`);
          const result = await handler(job.payload(), {
            shouldStop: () => run.signal?.aborted === true,
            yieldEveryStep: true,
            onProgress: (done: number, total: number) => run.onProgress?.(0, job, done, total),
          });
          run.onResult(job, result);
        }
        return [];
      }
      await runPool<P, R>({
        name: o.name,
        workers: o.workers,
        entry: o.entry,
        groups: groupJobs(run.jobs, run.groupSize ?? 1),
        what: run.what,
        ...(run.signal ? { signal: run.signal } : {}),
        onResult: (job, result) => run.onResult(job, result),
        ...(run.onProgress ? { onProgress: run.onProgress } : {}),
      });
      return [];
    },
  };
}
