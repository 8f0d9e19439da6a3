/**
 * Load test of `gpd serve` on the demo run: a server process on loopback, autocannon with 64
 * connections for 30 s, each request the demo city's last 12 readings of every node (a forecast for
 * all 24 regions). Prints requests per second, p50/p99 latency, errors, and the server's RSS before
 * and after the load.
 *
 *   npm run bench:serve                         # runs/demo, the server's default worker count
 *   npm run bench:serve -- --workers 0,1,2      # one round per worker count, interleaved order
 *   npm run bench:serve -- --run runs/tiny --duration 10
 *
 * The demo run comes from `npx gpd demo` (about 6-12 minutes on 2 cores); `--build` makes it first.
 * Ends with `requests-per-second: <n>` and `p99-ms: <n>` (of the last round).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { RunFolder } from '../src/transfer/run-folder.js';
import { resolveCity, syntheticDefaultsOf } from '../src/data/resolve.js';
import { forecastRequestFromCity } from '../src/serve/request.js';
import { DEFAULT_SERVE_WORKERS } from '../src/cli/commands/serve.js';

const root = resolve(new URL('..', import.meta.url).pathname);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const runDir = resolve(root, arg('run', 'runs/demo'));
const connections = Number(arg('connections', '64'));
const duration = Number(arg('duration', '30'));
const workerCounts = arg('workers', String(DEFAULT_SERVE_WORKERS)).split(',').map(Number);
/** Client timeout per request (s): a request unanswered this long counts as an error. */
const timeout = Number(arg('timeout', '30'));
const gpd = join(root, 'bin/gpd.js');

const run = new RunFolder(runDir);
if (!run.isFinished() || !run.has('target')) {
  if (!process.argv.includes('--build')) {
    console.error(`${runDir} is not a finished run with stored models. Make it with \`npx gpd demo\` (about 6-12 minutes on 2 cores), or run this benchmark with --build to make it first.`);
    process.exit(1);
  }
  console.log(`building ${runDir} with gpd demo ...`);
  const r = spawnSync(process.execPath, [gpd, 'demo', '-o', runDir], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const cfg = run.readConfig().config;
const city = resolveCity(cfg.data.target, syntheticDefaultsOf(cfg.data));
const body = JSON.stringify(forecastRequestFromCity(city, { feature: cfg.data.feature }));

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function startServer(workers: number): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [gpd, 'serve', '--run', runDir, '--port', String(port), '--workers', String(workers), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`gpd serve exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gpd serve did not answer /healthz within 60 s');
}

async function hammer(url: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url: `${url}/v1/forecast`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration: seconds, timeout });
}

interface Round {
  workers: number;
  /** GET /healthz latency while the load runs: whether forecasts block the server's other work. */
  healthMedian: number;
  healthMax: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  rssBefore: number;
  rssAfter: number;
}

async function round(workers: number): Promise<Round> {
  const { child, url } = await startServer(workers);
  try {
    // Warm up (JIT, wasm, allocator) so "before" is the steady footprint, not the cold one.
    await hammer(url, 3);
    const rssBefore = rssMiB(child.pid!);
    const probes: number[] = [];
    let loading = true;
    const probe = (async () => {
      while (loading) {
        const t0 = performance.now();
        await fetch(`${url}/healthz`).then((res) => res.text());
        probes.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const r = await hammer(url, duration);
    loading = false;
    await probe;
    const rssAfter = rssMiB(child.pid!);
    probes.sort((a, b) => a - b);
    const healthMedian = probes[Math.floor(probes.length / 2)] ?? NaN;
    const healthMax = probes[probes.length - 1] ?? NaN;
    // autocannon's errors include its timeouts and resets.
    if (r.errors > 0) console.log(`  workers ${workers}: ${r.errors} errors (${r.timeouts} timeouts after ${timeout} s, ${r.resets} resets)`);
    return { workers, healthMedian, healthMax, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, rssBefore, rssAfter };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

// The machine is shared: the load average says how much of its 2 cores the rounds could have.
const load = () => loadavg().map((v) => v.toFixed(1)).join(' ');
console.log(`run ${runDir}: ${city.id}, request = last 12 readings of ${city.N} nodes (${body.length} bytes); ${connections} connections x ${duration} s per round; load average ${load()} on ${availableParallelism()} cores`);
const rounds: Round[] = [];
for (const w of workerCounts) {
  const r = await round(w);
  rounds.push(r);
  const growth = ((r.rssAfter - r.rssBefore) / r.rssBefore) * 100;
  console.log(
    `workers ${w}: ${r.rps.toFixed(1)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}, ` +
      `/healthz during the load median ${r.healthMedian.toFixed(0)} ms max ${r.healthMax.toFixed(0)} ms, ` +
      `RSS ${r.rssBefore.toFixed(0)} -> ${r.rssAfter.toFixed(0)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)}%)`,
  );
}
console.log(`load average after: ${load()}`);
if (rounds.length > 1) console.log(`throughput ratio vs ${rounds[0]!.workers} workers: ${rounds.map((r) => `${r.workers}: ${(r.rps / rounds[0]!.rps).toFixed(2)}`).join(', ')}`);
const last = rounds[rounds.length - 1]!;
console.log(`errors: ${last.errors + last.non2xx}`);
console.log(`rss-before-mib: ${last.rssBefore.toFixed(1)}`);
console.log(`rss-after-mib: ${last.rssAfter.toFixed(1)}`);
console.log(`p50-ms: ${last.p50}`);
console.log(`requests-per-second: ${last.rps.toFixed(1)}`);
console.log(`p99-ms: ${last.p99}`);
if (last.errors + last.non2xx > 0 || last.rssAfter > 1.1 * last.rssBefore) process.exitCode = 1;
