/**
 * Region jobs and the engines that run them. A region job is self-contained: a kind (what code runs
 * it), a label for people, and a payload holding everything it reads (a region slice,
 * bank/region-slice.ts, and its settings), built only when the job is handed out so that a plan of
 * thousands of regions does not hold thousands of slices. The same job runs in the calling thread,
 * on a local pool of worker threads (bank/pool.ts) or on a Redis cluster of workers (src/cluster/),
 * with the same result: each region is seeded by itself.
 */

/** Reports and cancellation a job's code gets, wherever it runs. */
export interface JobHooks {
  /** Checked before every training step; true abandons the job with Cancelled. */
  shouldStop?: () => boolean;
  /** Yield to the event loop between steps (the calling thread must still see Ctrl-C). */
  yieldEveryStep?: boolean;
  /** Units of the job done so far (epochs, methods). */
  onProgress?: (done: number, total: number) => void;
}

/** The code of each job kind, by name (what a worker thread can run). */
export type JobHandlers = Record<string, (payload: never, hooks: JobHooks) => Promise<unknown>>;

export interface RegionJob<P = unknown> {
  /** Which handler runs it ('bank-region', 'transfer-region'). */
  kind: string;
  /** Names the job in progress and errors, e.g. "synth-a region 3". */
  label: string;
  /** Builds the payload (called once, when the job is handed out). */
  payload: () => P;
}

export interface JobRun<P, R> {
  /** What the jobs make up, for messages ("bank build", "evaluation"). */
  what: string;
  jobs: RegionJob<P>[];
  /** Jobs handed to one local worker thread at a time (a cluster hands out one job at a time). */
  groupSize?: number;
  signal?: AbortSignal;
  /** Called once per job as its result arrives, in any order; a throw stops the run. */
  onResult: (job: RegionJob<P>, result: R) => void;
  /** Progress of one running job; `lane` tells concurrent jobs apart (a thread, a cluster worker's thread). */
  onProgress?: (lane: number, job: RegionJob<P>, done: number, total: number) => void;
}

/** A job that failed for good (a cluster retries a bounded number of times first). */
export interface JobFailure {
  label: string;
  error: string;
  attempts: number;
}

/**
 * Runs region jobs. The local engine stops at the first failure (it throws); a cluster engine
 * finishes every other job and returns the failures, each by its label.
 */
export interface JobEngine {
  run<P, R>(run: JobRun<P, R>): Promise<JobFailure[]>;
}

/** Some jobs failed after their attempts; everything else was stored. */
export class JobsFailed extends Error {
  constructor(
    what: string,
    readonly failures: JobFailure[],
    done: string,
  ) {
    const lines = failures.map((f) => `  ${f.label} (after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}): ${f.error}`);
    super(`${what}: ${failures.length} job(s) failed:\n${lines.join('\n')}\n${done}; rerun the same command to retry the failed ones`);
    this.name = 'JobsFailed';
  }
}
