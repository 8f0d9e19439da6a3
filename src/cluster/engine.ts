/**
 * The coordinator's side of the cluster: a JobEngine (bank/jobs.ts) that puts region jobs on a
 * BullMQ queue in Redis and collects their results as they arrive; `gpd worker` processes
 * (cluster/worker.ts) run them. `buildBank` and the transfer's evaluation take it instead of the
 * local engine and store every result exactly as they would a local one.
 *
 * - At most `maxQueued` jobs of a run are in Redis at a time (their slices are the memory Redis
 *   needs); the next is enqueued as one is collected.
 * - Job ids are content-addressed (cluster/queue.ts): a rerun after the coordinator was killed
 *   finds its jobs again; completed ones are collected without being run again, waiting or running
 *   ones are adopted, failed ones are retried (the rerun asks for them).
 * - A job that fails for good (after `attempts`) is recorded by BullMQ with its error and returned
 *   as a JobFailure by its label; the rest of the run goes on.
 * - Results are found through the queue's events and, for anything an outage hid, by checking every
 *   pending job's state each `pollMs`.
 */
import { Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { initBackend } from '../runtime/backend.js';
import { Cancelled } from '../util/progress.js';
import { formatIssues } from '../util/zod-issues.js';
import type { JobEngine, JobFailure, JobRun, RegionJob } from '../bank/jobs.js';
import { encode, unpackResult } from './codec.js';
import { codeFingerprint } from './fingerprint.js';
import { BlobStore, JobProgress, JobReturn, KEY_PREFIX, QUEUE_NAME, jobIdOf, payloadHash, type JobEnvelope } from './queue.js';
import { bullConnection, connectionOptions, redact, throttled, type RedisTarget } from './redis-url.js';
import { JOB_KINDS } from './schemas.js';

export interface ClusterEngineOptions {
  redis: RedisTarget;
  /** Jobs of one run in Redis at a time, waiting or running (default 64). */
  maxQueued?: number;
  /** Attempts per job before it fails for good; a worker killed mid-job does not use one up (default 3). */
  attempts?: number;
  /** How often every pending job's state is checked besides the queue's events (ms, default 1000). */
  pollMs?: number;
  log?: (message: string) => void;
  /** Each collected job's times (ms since the epoch; benchmarks measure the cluster's overhead with them). */
  onCollected?: (t: JobTimes) => void;
}

export interface JobTimes {
  label: string;
  /** Put on the queue (by this coordinator, or an earlier one for an adopted job). */
  enqueuedAt: number;
  /** Taken by a worker (its last attempt). */
  startedAt: number;
  finishedAt: number;
  /** Its result stored by this coordinator. */
  collectedAt: number;
}

interface Pending<P> {
  id: string;
  job: RegionJob<P>;
  shas: string[];
}

const DAY = 24 * 3600;

export class ClusterEngine implements JobEngine {
  private constructor(
    private readonly o: ClusterEngineOptions,
    /** This coordinator's code fingerprint: jobs carry it, workers compare theirs. */
    readonly code: string,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly redis: Redis,
    private readonly log: (message: string) => void,
  ) {}

  static async connect(o: ClusterEngineOptions): Promise<ClusterEngine> {
    const log = (m: string) => o.log?.(redact(m, o.redis));
    const backend = await initBackend();
    const code = codeFingerprint(backend);
    const connection = bullConnection(o.redis);
    const queue = new Queue(QUEUE_NAME, { connection, prefix: KEY_PREFIX });
    const events = new QueueEvents(QUEUE_NAME, { connection, prefix: KEY_PREFIX });
    const redis = new Redis(o.redis.url, connectionOptions());
    const warn = throttled((m) => log(`redis ${o.redis.display}: ${m} (retrying)`));
    for (const c of [queue, events, redis] as { on(e: 'error', f: (err: Error) => void): unknown }[]) c.on('error', (err) => warn(err.message));
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    log(`cluster: redis ${o.redis.display}, code ${code} (${backend})`);
    return new ClusterEngine(o, code, queue, events, redis, log);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close(), this.redis.quit()]);
  }

  async run<P, R>(r: JobRun<P, R>): Promise<JobFailure[]> {
    if (r.jobs.length === 0) return [];
    const maxQueued = Math.max(1, this.o.maxQueued ?? 64);
    const attempts = Math.max(1, this.o.attempts ?? 3);
    const blobs = new BlobStore(this.redis);
    const pending = new Map<string, Pending<P>>();
    const blobUse = new Map<string, number>();
    const failures: JobFailure[] = [];
    const lanes = new Map<string, number>();
    let next = 0;
    let fatal: Error | null = null;
    let stopped = false;
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const end = () => {
      stopped = true;
      finish();
    };

    // Every change of state goes through one chain: an event and the poll never collect a job twice.
    let chain: Promise<void> = Promise.resolve();
    const serial = (fn: () => Promise<void>) => {
      chain = chain.then(() => (stopped ? undefined : fn())).catch((err: Error) => {
        fatal ??= err;
        end();
      });
    };

    const release = async (p: Pending<P>) => {
      pending.delete(p.id);
      const unused: string[] = [];
      for (const sha of p.shas) {
        const n = (blobUse.get(sha) ?? 1) - 1;
        if (n <= 0) {
          blobUse.delete(sha);
          unused.push(sha);
        } else blobUse.set(sha, n);
      }
      await blobs.delete(unused);
    };
    const fail = async (p: Pending<P>, error: string, tries: number) => {
      failures.push({ label: p.job.label, error, attempts: tries });
      this.log(`${p.job.label}: failed after ${tries} attempt(s): ${error}`);
      await release(p);
    };
    const collect = async (p: Pending<P>, job: Job) => {
      const kind = JOB_KINDS[p.job.kind]!;
      const rejected = async (why: string) => {
        // Not kept: a rerun computes the region again instead of finding this result.
        await job.remove().catch(() => {});
        await fail(p, why, job.attemptsMade);
      };
      const ret = JobReturn.safeParse(job.returnvalue);
      if (!ret.success) return rejected(`its return value is not a gpd result (${formatIssues(ret.error, job.returnvalue, JobReturn).join('; ')})`);
      if (ret.data.code !== this.code) return rejected(`it was computed by code ${ret.data.code}, this coordinator runs ${this.code}`);
      let value: unknown;
      try {
        value = unpackResult(ret.data);
      } catch (err) {
        return rejected(`its result does not decode: ${(err as Error).message}`);
      }
      const parsed = kind.result.safeParse(value);
      if (!parsed.success) return rejected(`its result fails validation: ${formatIssues(parsed.error, value, kind.result).slice(0, 5).join('; ')}`);
      r.onResult(p.job, parsed.data as R);
      this.o.onCollected?.({ label: p.job.label, enqueuedAt: job.timestamp, startedAt: job.processedOn ?? NaN, finishedAt: job.finishedOn ?? NaN, collectedAt: Date.now() });
      await release(p);
      // Collected and stored: the job's record is no longer needed (a failure here is harmless, completed jobs expire).
      await job.remove().catch(() => {});
    };
    const settle = async (p: Pending<P>) => {
      if (!pending.has(p.id)) return;
      const state = await this.queue.getJobState(p.id);
      if (state === 'completed' || state === 'failed') {
        const job = await Job.fromId(this.queue, p.id);
        if (!job) return;
        if (state === 'completed') await collect(p, job);
        else await fail(p, job.failedReason || 'failed without a reason', job.attemptsMade);
      } else if (state === 'unknown') {
        // Removed behind our back (e.g. by hand): enqueue it again.
        await release(p);
        await admit(p.job);
      }
    };
    const admit = async (job: RegionJob<P>) => {
      if (!JOB_KINDS[job.kind]) throw new Error(`the cluster runs no "${job.kind}" jobs`);
      const { json, blobs: bytes } = encode(job.payload());
      const hash = payloadHash(this.code, job.kind, json);
      const p: Pending<P> = { id: jobIdOf(job.kind, job.label, hash), job, shas: [...bytes.keys()] };
      pending.set(p.id, p);
      for (const sha of p.shas) blobUse.set(sha, (blobUse.get(sha) ?? 0) + 1);
      // Uploaded (or their expiry renewed) first: a worker may take the job the moment it exists.
      await blobs.put(bytes);
      const existing = await Job.fromId(this.queue, p.id);
      if (existing) {
        const state = await existing.getState();
        if (state === 'completed') return collect(p, existing);
        if (state !== 'failed') return; // waiting or running: adopted from an earlier run
        await existing.remove();
      }
      const envelope: JobEnvelope = { kind: job.kind, label: job.label, code: this.code, hash, payload: json, blobs: p.shas };
      await this.queue.add(job.kind, envelope, {
        jobId: p.id,
        attempts,
        backoff: { type: 'fixed', delay: 1000 },
        removeOnComplete: { age: 7 * DAY },
        removeOnFail: { age: 30 * DAY },
      });
    };
    const topUp = async () => {
      while (!stopped && pending.size < maxQueued && next < r.jobs.length) await admit(r.jobs[next++]!);
      if (next >= r.jobs.length && pending.size === 0) end();
    };

    const onDone = ({ jobId }: { jobId: string }) => {
      const p = pending.get(jobId);
      if (p) serial(async () => {
        await settle(p);
        await topUp();
      });
    };
    const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
      const p = pending.get(jobId);
      const d = JobProgress.safeParse(data);
      if (!p || !d.success) return;
      let lane = lanes.get(d.data.worker);
      if (lane === undefined) lanes.set(d.data.worker, (lane = lanes.size));
      r.onProgress?.(lane, p.job, d.data.done, d.data.total);
    };
    const onAbort = () => end();
    this.events.on('completed', onDone);
    this.events.on('failed', onDone);
    this.events.on('progress', onProgress);
    r.signal?.addEventListener('abort', onAbort, { once: true });
    if (r.signal?.aborted) end();
    const poll = setInterval(() => {
      serial(async () => {
        for (const p of [...pending.values()]) await settle(p);
        await topUp();
      });
    }, this.o.pollMs ?? 1000);
    try {
      const workers = await this.queue.getWorkersCount().catch(() => -1);
      if (workers === 0) this.log(`no worker is connected to ${this.o.redis.display} yet: jobs wait for \`gpd worker --redis <url>\``);
      serial(topUp);
      await finished;
      await chain;
    } finally {
      clearInterval(poll);
      this.events.off('completed', onDone);
      this.events.off('failed', onDone);
      this.events.off('progress', onProgress);
      r.signal?.removeEventListener('abort', onAbort);
    }
    if (fatal) throw fatal;
    if (r.signal?.aborted) throw new Cancelled(`${r.what} (the jobs in Redis go on; rerun to collect them)`);
    return failures;
  }
}
