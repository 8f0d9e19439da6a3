/**
 * Cluster benchmark (npm run bench:cluster): the same small bank built by the local pool of 2 worker
 * threads and by 2 single-thread `gpd worker` processes through a local redis-server (Debian's
 * package, started here on a loopback port), in interleaved rounds so machine load hits both alike.
 *
 * - Regions per minute in the steady state, the best round of each: the regions stored after the
 *   second (by then both lanes have delivered one: the local pool's thread start-up, which a
 *   long-running cluster worker does not pay in each build, is left out, as in bench:bank), over the
 *   time from the second result to the last. End-to-end rates (whole build) are printed beside them.
 * - Job overhead per region: what the cluster adds to a region's training, from BullMQ's times of
 *   each job: (finished - started - the region's own training time) on the worker (fetching blobs,
 *   decoding, validating, handing to a thread, encoding the result) plus (collected - finished) on the
 *   coordinator (event, fetch, decode, validate, store). The median over every region of every round.
 *
 * The last lines are exactly
 *   cluster-over-local: <ratio of regions per minute>
 *   job-overhead-ms: <median per region>
 * BENCH_CLUSTER_QUICK=1 runs fewer regions and rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/runtime/backend.js';
import { generateSyntheticCities } from '../src/data/synthetic.js';
import { buildBank, type BuildBankOptions } from '../src/bank/build.js';
import { inspectBank } from '../src/bank/inspect.js';
import { loadBank } from '../src/bank/store.js';
import { ClusterEngine, type JobTimes } from '../src/cluster/engine.js';
import { parseRedisUrl } from '../src/cluster/redis-url.js';
import { RedisServer } from '../test/cluster/redis-server.js';
import { startWorker, type GpdProcess } from '../test/cluster/processes.js';

const quick = process.env.BENCH_CLUSTER_QUICK === '1';
const regions = quick ? 8 : 16;
const rounds = quick ? 1 : 3;

await initBackend();
const cities = generateSyntheticCities({ seed: 5, cities: 1, nodes: regions, days: 8 });
const root = mkdtempSync(join(tmpdir(), 'gpd-bench-cluster-'));
const base = (dir: string): BuildBankOptions => ({ cities, dir: join(root, dir), seed: 1, model: 'stgcn', init: 'random', epochs: 3, patience: 10, groupSize: 1, workers: 2, baseline: 'seasonal-ar' });

const server = await RedisServer.start();
const workers: GpdProcess[] = [];
const times: JobTimes[] = [];
let engine: ClusterEngine | null = null;
try {
  workers.push(...(await Promise.all([startWorker(server.url, 30), startWorker(server.url, 30)])));
  engine = await ClusterEngine.connect({ redis: parseRedisUrl(server.url), onCollected: (t) => times.push(t) });
  const best = { local: 0, cluster: 0 };
  const bestWhole = { local: 0, cluster: 0 };
  const overhead: number[] = [];
  const digests = new Set<string>();
  for (let round = 0; round < rounds; round++) {
    for (const mode of ['local', 'cluster'] as const) {
      const dir = `${mode}-${round}`;
      times.length = 0;
      const stored: number[] = [];
      const t0 = performance.now();
      const r = await buildBank({
        ...base(dir),
        ...(mode === 'cluster' ? { engine } : {}),
        onProgress: (p) => {
          if (p.lane === undefined && p.task === 'bank stgcn' && p.done > stored.length) stored.push(performance.now());
        },
      });
      const whole = (r.trained / (performance.now() - t0)) * 60_000;
      const perMinute = ((stored.length - 2) / (stored.at(-1)! - stored[1]!)) * 60_000;
      best[mode] = Math.max(best[mode], perMinute);
      bestWhole[mode] = Math.max(bestWhole[mode], whole);
      digests.add(inspectBank(r.dir).digest);
      if (mode === 'cluster') {
        const trainMs = new Map(loadBank(r.dir).entries.map((e) => [`${e.city} region ${e.region}`, e.timings.totalMs]));
        for (const t of times) overhead.push(t.finishedAt - t.startedAt - trainMs.get(t.label)! + (t.collectedAt - t.finishedAt));
      }
      console.log(`round ${round + 1} ${mode}: ${regions} regions in ${((performance.now() - t0) / 1000).toFixed(1)} s (${whole.toFixed(1)} regions/min; steady state ${perMinute.toFixed(1)})`);
    }
  }
  if (digests.size !== 1) throw new Error(`the builds differ: ${digests.size} digests`);
  overhead.sort((a, b) => a - b);
  const median = overhead[overhead.length >> 1]!;
  console.log(`regions per minute, best of ${rounds}, steady state: local 2 threads ${best.local.toFixed(1)}, cluster 2 workers ${best.cluster.toFixed(1)}; whole builds: ${bestWhole.local.toFixed(1)} and ${bestWhole.cluster.toFixed(1)} (ratio ${(bestWhole.cluster / bestWhole.local).toFixed(2)}); every build has digest ${[...digests][0]!.slice(0, 16)}`);
  console.log(`cluster-over-local: ${(best.cluster / best.local).toFixed(2)}`);
  console.log(`job-overhead-ms: ${median.toFixed(1)}`);
} finally {
  await engine?.close();
  await Promise.all(workers.map((w) => w.kill('SIGTERM')));
  await server.dispose();
  rmSync(root, { recursive: true, force: true });
}
