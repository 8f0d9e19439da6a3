/**
 * `gpd worker`: a long-running process that takes region jobs from the cluster's BullMQ queue and
 * runs them with the code path of the local pool: `concurrency` worker threads, one tfjs instance
 * each (bank/pool.ts, transfer/worker.ts). It needs nothing but Redis: every job brings its region
 * slice and settings (as blobs in Redis), and the result goes back in the job's return value.
 *
 * Before anything runs, a job must: be a gpd job envelope, come from the same code and backend as
 * this worker (else it is refused naming both fingerprints), hash to what it claims, and decode to a
 * payload its kind's zod schema accepts (else it fails for good, naming the fields). A worker killed
 * mid-job stops renewing its lock; after `stallSeconds` another worker takes the job again.
 */
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { formatIssues } from '../util/zod-issues.js';
import { ThreadPool } from '../bank/pool.js';
import { decode, packResult } from './codec.js';
import { codeFingerprint } from './fingerprint.js';
import { BlobStore, JobEnvelope, KEY_PREFIX, QUEUE_NAME, payloadHash, type JobReturn } from './queue.js';
import { bullConnection, connectionOptions, redact, throttled, type RedisTarget } from './redis-url.js';
import { JOB_KINDS } from './schemas.js';

export interface ClusterWorkerOptions {
  redis: RedisTarget;
  /** Worker threads = jobs at once (each a core). */
  concurrency: number;
  /** Lock duration and stalled-job check interval (default 30 s). */
  stallSeconds?: number;
  /** Stop taking jobs, finish the running ones, then return. */
  signal?: AbortSignal;
  log?: (message: string) => void;
}

export interface WorkerInfo {
  id: string;
  code: string;
  backend: string;
}

export async function runWorker(o: ClusterWorkerOptions, onReady?: (info: WorkerInfo) => void): Promise<void> {
  const log = (m: string) => o.log?.(redact(m, o.redis));
  const concurrency = Math.max(1, Math.floor(o.concurrency));
  const pool = await ThreadPool.start(new URL('../transfer/worker.ts', import.meta.url), concurrency);
  const backend = await pool.backend();
  const code = codeFingerprint(backend);
  const id = `${hostname()}:${process.pid}`;
  const redis = new Redis(o.redis.url, connectionOptions());
  const warn = throttled((m) => log(`redis ${o.redis.display}: ${m} (retrying)`));
  redis.on('error', (err) => warn(err.message));
  const blobs = new BlobStore(redis);
  const free = Array.from({ length: concurrency }, (_, i) => concurrency - 1 - i);

  const processJob = async (job: Job): Promise<JobReturn> => {
    const env = JobEnvelope.safeParse(job.data);
    if (!env.success) throw new UnrecoverableError(`job ${job.id} is not a gpd region job (${formatIssues(env.error, job.data, JobEnvelope).slice(0, 5).join('; ')})`);
    const e = env.data;
    if (e.code !== code) {
      const msg = `refused ${e.label} (job ${job.id}): it was made by gpd code ${e.code}, this worker runs gpd code ${code} (${backend}); run the workers and the coordinator from the same gpd build and backend`;
      log(msg);
      throw new Error(msg);
    }
    const kind = JOB_KINDS[e.kind];
    if (!kind) throw new UnrecoverableError(`${e.label}: this worker runs no "${e.kind}" jobs`);
    if (payloadHash(e.code, e.kind, e.payload) !== e.hash) throw new UnrecoverableError(`${e.label}: the payload does not match its hash`);
    const bytes = await blobs.get(e.blobs);
    let value: unknown;
    try {
      value = decode(e.payload, bytes);
    } catch (err) {
      throw new UnrecoverableError(`${e.label}: the payload does not decode (${(err as Error).message})`);
    }
    const payload = kind.payload.safeParse(value);
    if (!payload.success) {
      const msg = `refused ${e.label}: its payload fails validation: ${formatIssues(payload.error, value, kind.payload).slice(0, 5).join('; ')}`;
      log(msg);
      throw new UnrecoverableError(msg);
    }
    const lane = free.pop();
    if (lane === undefined) throw new Error('no free worker thread (more jobs than --concurrency)');
    const t0 = performance.now();
    log(`${e.label}: started on thread ${lane} (attempt ${job.attemptsMade + 1})`);
    try {
      const result = await pool.run(lane, { kind: e.kind, payload: payload.data }, (done, total) => {
        job.updateProgress({ done, total, worker: `${id}/${lane}` }).catch(() => {});
      });
      log(`${e.label}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return { code, ...packResult(result) };
    } catch (err) {
      log(`${e.label}: failed: ${(err as Error).message}`);
      throw err;
    } finally {
      free.push(lane);
    }
  };

  const stallMs = Math.round((o.stallSeconds ?? 30) * 1000);
  const worker = new Worker(QUEUE_NAME, processJob, {
    connection: bullConnection(o.redis),
    prefix: KEY_PREFIX,
    concurrency,
    lockDuration: stallMs,
    stalledInterval: stallMs,
    // A job whose worker died twice is still retried once more before it counts as failed.
    maxStalledCount: 2,
  });
  worker.on('error', (err) => warn(err.message));
  const closed = new Promise<void>((resolve) => worker.once('closed', () => resolve()));
  const stop = () => {
    log(`worker ${id}: stopping (finishing ${concurrency - free.length} running job(s))`);
    void worker.close();
  };
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    await worker.waitUntilReady();
    log(`worker ${id}: ${concurrency} thread(s) (${backend}), code ${code}, taking region jobs from ${o.redis.display}`);
    onReady?.({ id, code, backend });
    if (o.signal?.aborted) stop();
    await closed;
  } finally {
    o.signal?.removeEventListener('abort', stop);
    await worker.close();
    await pool.close();
    await redis.quit().catch(() => {});
  }
}
