/**
 * The cluster against a real redis-server (Debian's package, started here on a free loopback port
 * with append-only persistence and a password): every fault of docs/cluster.md ends with a bank
 * whose digest equals a local build's.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { initBackend } from '../../src/runtime/backend.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveSources } from '../../src/config/cities.js';
import { buildBank, type BuildBankOptions } from '../../src/bank/build.js';
import { inspectBank } from '../../src/bank/inspect.js';
import { loadBank } from '../../src/bank/store.js';
import type { JobEngine, RegionJob } from '../../src/bank/jobs.js';
import type { BankRegionPayload } from '../../src/bank/region-payload.js';
import { ClusterEngine } from '../../src/cluster/engine.js';
import { parseRedisUrl } from '../../src/cluster/redis-url.js';
import { KEY_PREFIX, QUEUE_NAME } from '../../src/cluster/queue.js';
import { RedisServer } from './redis-server.js';
import { GpdProcess, PROJECT, startWorker } from './processes.js';

await initBackend();
const PASSWORD = 'pa55-w0rd';
const root = mkdtempSync(join(tmpdir(), 'gpd-cluster-'));
let server: RedisServer;
let admin: Redis;
const running: GpdProcess[] = [];

/** Two tiny synthetic cities, 3 regions each, 2 epochs: seconds per bank. */
const SETTINGS = ['data.sources=["synthetic:synth-a","synthetic:synth-b"]', 'data.syntheticNodes=5', 'data.syntheticDays=4', 'bank.epochs=2', 'bank.maxRegions=3', 'bank.init="random"', 'seed=3'];
const cfg = loadConfig(undefined, SETTINGS);
const cities = resolveSources(cfg);
const options = (dir: string): BuildBankOptions => ({ ...cfg.bank, cities, dir: join(root, dir), seed: cfg.seed, feature: cfg.data.feature, baseline: cfg.data.baseline, workers: 0 });
let localDigest: string;

before(async () => {
  server = await RedisServer.start({ password: PASSWORD });
  admin = new Redis(server.url, { maxRetriesPerRequest: null });
  await buildBank(options('local'));
  localDigest = inspectBank(join(root, 'local')).digest;
});

after(async () => {
  await Promise.all(running.map((p) => p.kill()));
  admin.disconnect();
  await server.dispose();
  rmSync(root, { recursive: true, force: true });
});

async function workers(n: number, stallSeconds: number, projectRoot = PROJECT): Promise<GpdProcess[]> {
  const ws = await Promise.all(Array.from({ length: n }, () => startWorker(server.url, stallSeconds, projectRoot)));
  running.push(...ws);
  return ws;
}

/** A fresh Redis and an engine on it; every test starts from an empty queue. */
async function engine(extra: { attempts?: number; maxQueued?: number } = {}): Promise<ClusterEngine> {
  await admin.flushall();
  return ClusterEngine.connect({ redis: parseRedisUrl(server.url), pollMs: 250, ...extra });
}

/** Two workers the tests that kill none share (started once: a worker takes seconds to start). */
let sharedPair: Promise<GpdProcess[]> | null = null;

/**
 * An engine for `fn` with `workers` of its own (stopped afterwards) or the shared pair, closed
 * afterwards whatever happens.
 */
async function onCluster<T>(o: { attempts?: number; workers?: number; stallSeconds?: number }, fn: (e: ClusterEngine, ws: GpdProcess[]) => Promise<T>): Promise<T> {
  const e = await engine(o.attempts ? { attempts: o.attempts } : {});
  const own = o.workers !== undefined;
  const ws = own ? await workers(o.workers!, o.stallSeconds ?? 10) : await (sharedPair ??= workers(2, 10));
  try {
    return await fn(e, ws);
  } finally {
    await e.close();
    if (own) await Promise.all(ws.map((w) => w.kill('SIGTERM')));
  }
}

/** A complete bank equal, bit for bit, to the local build. */
function assertLocal(res: { trained: number; dir: string }, trained = 6): void {
  assert.equal(res.trained, trained);
  assert.equal(inspectBank(res.dir).digest, localDigest);
}

const done = (ws: GpdProcess[], label: string) => ws.reduce((a, w) => a + w.count(new RegExp(`${label}: done`)), 0);
const labels = cities.flatMap((c) => [0, 1, 2].map((r) => `${c.id} region ${r}`));

/** Wraps an engine so that one job's payload is changed before it is enqueued. */
function tamper(inner: JobEngine, label: string, change: (p: BankRegionPayload) => void): JobEngine {
  return {
    run: (r) =>
      inner.run({
        ...r,
        jobs: r.jobs.map((j) => (j.label !== label ? j : ({ ...j, payload: () => { const p = j.payload() as BankRegionPayload; change(p); return p; } } as RegionJob<never>))),
      } as typeof r),
  };
}

test('a worker killed with -9 mid-job: another worker takes the stalled job; the bank equals the local one bit for bit', { timeout: 120_000 }, async () => {
  await onCluster({ workers: 2, stallSeconds: 2 }, async (e, [a, b]) => {
    let victim: string | null = null;
    let killed: Promise<unknown> | null = null;
    const res = await buildBank({
      ...options('killed-worker'),
      engine: e,
      onProgress: (p) => {
        // The first epoch of a job that worker A runs: A is mid-job, kill it.
        if (killed || p.lane === undefined || !p.detail || !a!.lines.some((l) => l.includes(`${p.detail}: started`))) return;
        victim = p.detail;
        killed = a!.kill('SIGKILL');
      },
    });
    await killed;
    assert.ok(victim, 'worker A ran a job');
    assert.equal(a!.count(new RegExp(`${victim}: done`)), 0, `A was killed before finishing ${victim}`);
    assert.equal(b!.count(new RegExp(`${victim}: done`)), 1, `B finished ${victim} after it stalled`);
    assertLocal(res);
  });
});

test('the coordinator killed with -9, then the same command again: no region is trained twice; the bank equals the local one', { timeout: 120_000 }, async () => {
  await admin.flushall();
  const ws = await workers(2, 5);
  const dir = join(root, 'killed-coordinator');
  const args = ['bank', 'build', '--bank', dir, '--redis', server.url, '--max-queued', '2', ...SETTINGS.flatMap((s) => ['--set', s])];
  try {
    const first = new GpdProcess(args);
    running.push(first);
    // Kill it once two regions are done and more are running or waiting in Redis.
    await Promise.race([ws[0]!.waitFor(/: done/, 1), ws[1]!.waitFor(/: done/, 1)]);
    await Promise.all(ws.map((w) => w.waitFor(/: (started|done)/, 1)));
    await first.kill('SIGKILL');
    const stored = existsSync(join(dir, 'regions')) ? readdirSync(join(dir, 'regions'), { recursive: true }).filter((f) => String(f).endsWith('.safetensors')).length : 0;
    assert.ok(stored < 6, `the first coordinator stored ${stored} of 6 regions before it was killed`);
    const second = new GpdProcess(args);
    running.push(second);
    assert.equal(await second.exited, 0, second.lines.join('\n'));
    assert.match(second.lines.join('\n'), /bank: .* \(\d regions trained, \d already done/);
    for (const l of labels) assert.equal(done(ws, l), 1, `${l} trained once across both coordinators:\n${ws.map((w) => w.lines.join('\n')).join('\n')}`);
    assert.equal(inspectBank(dir).digest, localDigest);
    for (const p of [first, second, ...ws]) assert.ok(!p.lines.some((l) => l.includes(PASSWORD)), 'the password never appears in any output');
    assert.ok(second.lines.some((l) => l.includes('(password set)')), second.lines.join('\n'));
  } finally {
    await Promise.all(ws.map((w) => w.kill('SIGTERM')));
  }
});

test('a worker built from different code refuses the jobs by hash, naming both', { timeout: 120_000 }, async () => {
  // A copy of the project whose code differs by one comment: another build.
  const other = join(root, 'other-build');
  mkdirSync(other);
  cpSync(join(PROJECT, 'src'), join(other, 'src'), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json']) cpSync(join(PROJECT, f), join(other, f));
  symlinkSync(join(PROJECT, 'node_modules'), join(other, 'node_modules'));
  const { appendFileSync } = await import('node:fs');
  appendFileSync(join(other, 'src/bank/region-job.ts'), '\n// another build\n');
  const e = await engine({ attempts: 1 });
  const [stale] = await workers(1, 10, other);
  const theirs = /code ([0-9a-f]{16})/.exec(stale!.lines.find((l) => l.includes('taking region jobs'))!)![1]!;
  assert.notEqual(theirs, e.code);
  try {
    await assert.rejects(buildBank({ ...options('refused'), engine: e }), (err: Error) => {
      assert.match(err.message, new RegExp(`it was made by gpd code ${e.code}, this worker runs gpd code ${theirs}`));
      return true;
    });
    assert.equal(stale!.count(/: started/), 0, 'the stale worker ran nothing');
    assert.ok(stale!.count(new RegExp(`refused .*gpd code ${e.code}.*gpd code ${theirs}`)) >= 1, stale!.lines.join('\n'));
  } finally {
    await e.close();
    await stale!.kill('SIGTERM');
  }
});

test('jobs are content-addressed: enqueueing the same bank again adds no job', { timeout: 60_000 }, async () => {
  const e = await engine({ maxQueued: 64 });
  // No worker: the jobs wait, and a second coordinator adopts them instead of adding copies.
  const ac = new AbortController();
  const first = buildBank({ ...options('adopted'), engine: e, signal: ac.signal });
  const queue = new Queue(QUEUE_NAME, { connection: { url: server.url }, prefix: KEY_PREFIX });
  try {
    while ((await queue.getWaitingCount()) < 6) await new Promise((r) => setImmediate(r));
    ac.abort();
    await assert.rejects(first, (err: Error) => err.name === 'Cancelled' && /bank build \(0\/6 regions stored/.test(err.message));
    const ids = (await queue.getWaiting()).map((j) => j.id).sort();
    // A second coordinator on the same bank: it finds the 6 waiting jobs and adopts them; a worker runs them.
    const e2 = await ClusterEngine.connect({ redis: parseRedisUrl(server.url), pollMs: 250 });
    const second = buildBank({ ...options('adopted'), engine: e2 });
    const [w] = await workers(1, 10);
    const res = await second;
    await w!.kill('SIGTERM');
    await e2.close();
    assertLocal(res);
    assert.equal(ids.length, 6);
    // BullMQ's event stream: 6 jobs were ever added, by the first coordinator only.
    const events = await admin.xrange(`${KEY_PREFIX}:${QUEUE_NAME}:events`, '-', '+');
    const added = events.filter(([, fields]) => fields[fields.indexOf('event') + 1] === 'added');
    assert.equal(added.length, 6);
    for (const id of ids) assert.equal(await Job.fromId(queue, id!), undefined, `${id} was collected and removed`);
    assert.deepEqual(await admin.keys(`${KEY_PREFIX}:blob:*`), [], 'every blob is deleted once its jobs are collected');
  } finally {
    await queue.close();
    await e.close();
  }
});

// From here on the tests share two workers (onCluster without `workers`): the tests above need their
// own workers or none at all, so they run first.
test('Redis restarts mid-build (append-only file on): workers and the coordinator reconnect and nothing is lost', { timeout: 120_000 }, async () => {
  await onCluster({}, async (e) => {
    let restarted: Promise<void> | null = null;
    const res = await buildBank({
      ...options('redis-restart'),
      engine: e,
      onProgress: (p) => {
        if (!restarted && p.lane === undefined && p.task === 'bank stgcn' && p.done === 2) restarted = server.restart();
      },
    });
    await restarted;
    assert.ok(restarted, 'Redis was restarted during the build');
    assertLocal(res);
  });
});

test('a poisoned job fails after its attempts with its error recorded and reported by region; the rest of the bank completes', { timeout: 120_000 }, async () => {
  const dir = 'poisoned';
  await onCluster({ attempts: 2 }, async (e) => {
    // Region 1 of synth-b claims a validation part beyond its series: training cannot build its windows.
    const poisoned = tamper(e, 'synth-b region 1', (p) => (p.data.prep.split.val.end = p.data.city.T + 40));
    await assert.rejects(buildBank({ ...options(dir), engine: poisoned }), (err: Error) => {
      assert.equal(err.name, 'JobsFailed');
      assert.match(err.message, /1 job\(s\) failed:\n  synth-b region 1 \(after 2 attempts\): city synth-b: step range \[\d+, \d+\) is empty or outside the series/);
      assert.match(err.message, /5\/6 regions stored/);
      return true;
    });
    const partial = loadBank(join(root, dir));
    assert.equal(partial.entries.length, 5);
    assert.ok(!partial.entries.some((x) => x.city === 'synth-b' && x.region === 1));
    // BullMQ keeps the failed job with its error.
    const queue = new Queue(QUEUE_NAME, { connection: { url: server.url }, prefix: KEY_PREFIX });
    const failed = await queue.getFailed();
    await queue.close();
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.failedReason, /step range .* is empty or outside the series/);
    assert.equal(failed[0]!.attemptsMade, 2);
    // Run again without the poison: the failed region is retried and the bank completes.
    assertLocal(await buildBank({ ...options(dir), engine: e }), 1);
  });
});

test('a payload that fails validation is refused before anything runs, naming the field', { timeout: 120_000 }, async () => {
  await onCluster({ attempts: 3 }, async (e, ws) => {
    const started = () => ws.reduce((a, w) => a + w.count(/synth-a region 0: started/), 0);
    const before = started();
    const bad = tamper(e, 'synth-a region 0', (p) => (p.data.city.series = new Float32Array(5)));
    await assert.rejects(buildBank({ ...options('invalid'), engine: bad }), (err: Error) => {
      // Refused at once: a payload does not change between attempts.
      assert.match(err.message, /synth-a region 0 \(after 1 attempt\): refused synth-a region 0: its payload fails validation: data\.city\.series has 5 values, \[T, N, F\] = \[\d+, \d+, 1\] needs \d+/);
      return true;
    });
    assert.equal(started(), before, 'nothing of the refused job ran');
  });
});

test('the transfer evaluation through the cluster writes the local run\'s prediction files byte for byte', { timeout: 120_000 }, async () => {
  const { evaluateTarget } = await import('../../src/transfer/evaluate.js');
  const { prepareTarget } = await import('../../src/train/target.js');
  const { createForecaster } = await import('../../src/models/registry.js');
  const { Rng } = await import('../../src/util/prng.js');
  const { readFileSync } = await import('node:fs');
  const target = cities[1]!;
  const prep = prepareTarget(target, 1, 0, 'seasonal-ar', 'days');
  const model = createForecaster('stgcn');
  const rng = new Rng(2);
  const vec = (l: string) => model.layout.init(rng.fork(l));
  const base = (dir: string) => ({
    model,
    prep,
    regions: [0, 2, 4],
    inits: { shared: vec('s'), bankMean: vec('m'), nearest: (r: number) => vec(`n${r}`), generated: (r: number) => vec(`g${r}`) },
    finetune: { epochs: 1, batchSize: 16, lr: 1e-3, weightDecay: 0, patience: 1, shrink: true, prescale: true },
    seed: 1,
    regionFile: (r: number) => join(root, dir, `region-${r}.safetensors`),
  });
  await onCluster({}, async (e, ws) => {
    const finished = () => ws.reduce((a, w) => a + w.count(/synth-b region \S+: done/), 0);
    const before = finished();
    const local = await evaluateTarget(base('eval-local'));
    const remote = await evaluateTarget({ ...base('eval-cluster'), engine: e });
    for (const f of readdirSync(join(root, 'eval-local'))) assert.deepEqual(readFileSync(join(root, 'eval-cluster', f)), readFileSync(join(root, 'eval-local', f)), f);
    assert.equal(readdirSync(join(root, 'eval-cluster')).length, 3);
    for (const m of local.scores.methods()) assert.deepEqual(remote.scores.result(m), local.scores.result(m));
    assert.equal(finished() - before, 3, 'the workers scored the 3 regions');
  });
});
