/**
 * `gpd serve` over real HTTP on loopback: good requests (equal to the evaluation's predictions), every
 * malformed input (400 with the field's path, 413 over the body limit, never a stack trace), concurrent
 * requests through the worker pool, and the real executable draining in-flight requests on SIGTERM.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { FastifyInstance } from 'fastify';
import { localEngine, poolEngine, type ForecastEngine } from '../../src/serve/engine.js';
import { buildServer } from '../../src/serve/server.js';
import { forecastRequestFromCity } from '../../src/serve/request.js';
import { makeRunFixture, type RunFixture } from '../transfer/run-fixture.js';

const root = resolve(new URL('../..', import.meta.url).pathname);
const dir = mkdtempSync(join(tmpdir(), 'gpd-serve-'));
let fx: RunFixture;
let engine: ForecastEngine;
let app: FastifyInstance;
let url: string;

before(async () => {
  fx = await makeRunFixture(dir);
  engine = localEngine(dir);
  app = await buildServer({ engine, bodyLimit: 16 * 1024 });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = async (body: unknown, base = url) => {
  const res = await fetch(`${base}/v1/forecast`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};
/** The request for the test window k of the fixture's region i: its last input step is the window's. */
const windowRequest = (i: number, k: number) => forecastRequestFromCity(fx.target, { until: fx.predictions[i]!.starts[k]! + 11 });

test('GET /healthz, /v1/regions and /openapi.json', async () => {
  const health = await (await fetch(`${url}/healthz`)).json();
  assert.deepEqual(health, { status: 'ok', city: 'synth-d', regions: 4, workers: 0 });
  const regions = (await (await fetch(`${url}/v1/regions`)).json()) as { regions: { id: string; neighbours: string[] }[]; methods: string[]; defaultMethod: string };
  assert.deepEqual(regions.regions.map((r) => r.id), fx.regions.map((r) => fx.target.nodeIds[r]));
  assert.equal(regions.defaultMethod, 'gpd');
  assert.deepEqual(regions.methods, ['gpd_zero_shot', 'gpd', 'random_init', 'gpd-auto']);
  const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; required: string[] } }> } }>> };
  assert.match(doc.openapi, /^3\./);
  assert.deepEqual(Object.keys(doc.paths).sort(), ['/healthz', '/v1/forecast', '/v1/regions']);
  const body = doc.paths['/v1/forecast']!['post']!.requestBody!.content['application/json']!.schema;
  assert.deepEqual(Object.keys(body.properties).sort(), ['end', 'intervalMinutes', 'method', 'readings', 'regions']);
  assert.deepEqual(body.required.sort(), ['end', 'readings']);
});

test('POST /v1/forecast: a test-period window\'s forecast equals the evaluation\'s prediction; times follow the last reading', async () => {
  for (let i = 0; i < fx.predictions.length; i++) {
    const k = Math.floor(fx.predictions[i]!.starts.length / 3);
    const region = fx.target.nodeIds[fx.predictions[i]!.region]!;
    const { status, json } = await post({ ...windowRequest(i, k), regions: [region] });
    assert.equal(status, 200, JSON.stringify(json));
    const f = (json.forecasts as { region: string; method: string; steps: { value: number; time: string }[] }[])[0]!;
    assert.equal(f.region, region);
    assert.equal(f.method, 'gpd');
    const saved = fx.predictions[i]!.preds.gpd!.subarray(k * 6, k * 6 + 6);
    f.steps.forEach((s, h) => assert.ok(Math.abs(s.value - saved[h]!) <= 1e-4, `${region} h${h + 1}: ${s.value} vs ${saved[h]}`));
    const end = Date.parse(`${windowRequest(i, k).end}Z`);
    assert.deepEqual(f.steps.map((s) => s.time), [1, 2, 3, 4, 5, 6].map((h) => new Date(end + h * 30 * 60_000).toISOString()));
  }
  // Without `regions`, every region the readings name; gpd-auto says which model it used per region.
  const all = await post({ ...forecastRequestFromCity(fx.target), method: 'gpd-auto' });
  assert.equal(all.status, 200);
  assert.equal(all.json.method, 'gpd-auto');
  const forecasts = all.json.forecasts as { region: string; method: string }[];
  assert.equal(forecasts.length, 4);
  assert.ok(forecasts.every((f) => f.method === 'gpd' || f.method === 'gpd_zero_shot'));
});

test('malformed requests: 400 with the JSON path of the field, 413 over the body limit, never a stack trace', async () => {
  const good = forecastRequestFromCity(fx.target);
  const g = engine.info.regions.find((r) => r.neighbours.length > 0)!;
  const withoutNeighbour = Object.fromEntries(Object.entries(good.readings).filter(([id]) => id !== g.neighbours[0]));
  const withNull = { ...good.readings, [g.id]: good.readings[g.id]!.map((v, k) => (k === 10 ? null : v)) };
  const cases: [string, unknown, number, (string | number)[], RegExp][] = [
    ['a reading of the wrong type', { ...good, readings: { ...good.readings, [g.id]: [...good.readings[g.id]!.slice(0, 11), 'x'] } }, 400, ['readings', g.id, 11], /expected number, received string/],
    ['readings not an object', { ...good, readings: [1, 2, 3] }, 400, ['readings'], /expected record/],
    ['no end time', { readings: good.readings }, 400, ['end'], /expected string/],
    ['an unknown key', { ...good, horizon: 12 }, 400, [], /Unrecognized key: "horizon"/],
    ['a missing neighbour', { ...good, readings: withoutNeighbour, regions: [g.id] }, 400, ['readings', g.neighbours[0]!], /no readings of neighbour/],
    ['an unknown node', { ...good, readings: { ...good.readings, 'not-a-node': good.readings[g.id] } }, 400, ['readings', 'not-a-node'], /is not a node of the run's city synth-d/],
    ['a missing reading (null) the model reads', { ...good, readings: withNull, regions: [g.id] }, 400, ['readings', g.id, 10], /has no reading at/],
    ['too few steps', { ...good, readings: { ...good.readings, [g.id]: [1, 2, 3] } }, 400, ['readings', g.id], /expected array to have >=12 items/],
    ['an unknown region', { ...good, regions: ['nowhere'] }, 400, ['regions', 0], /"nowhere" is not a region with a model/],
    ['a method the run has no models for', { ...good, method: 'bank_mean' }, 400, ['method'], /method "bank_mean" has no models/],
    ['no such method', { ...good, method: 'magic' }, 400, ['method'], /Invalid option/],
    ['another interval', { ...good, intervalMinutes: 5 }, 400, ['intervalMinutes'], /5 min interval, the run's models forecast 30 min steps/],
    ['an end that is not a time', { ...good, end: 'yesterday' }, 400, ['end'], /"yesterday" is not an ISO time/],
  ];
  for (const [what, body, status, path, message] of cases) {
    const r = await post(body);
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
    assert.deepEqual(r.json.path, path, `${what}: ${JSON.stringify(r.json)}`);
    assert.match(String(r.json.message), message, what);
    assert.doesNotMatch(JSON.stringify(r.json), /\n\s+at |\.ts:\d+/, `${what}: a stack trace in the response`);
  }
  // NaN is not JSON: the body does not parse.
  const nan = await post(JSON.stringify(good).replace(/\[([0-9.]+),/, '[NaN,'));
  assert.equal(nan.status, 400);
  assert.match(String(nan.json.message), /not valid JSON/);
  const big = await post({ ...good, padding: 'x'.repeat(20 * 1024) });
  assert.equal(big.status, 413);
  assert.equal(big.json.error, 'Payload Too Large');
});

test('concurrent requests through a worker pool: every answer equals the sequential one, and /healthz is answered while forecasts queue', async () => {
  const pool = await poolEngine(dir, 1);
  const server = await buildServer({ engine: pool });
  const base = await server.listen({ host: '127.0.0.1', port: 0 });
  try {
    const bodies = Array.from({ length: 40 }, (_, j) => windowRequest(j % fx.predictions.length, j % 5));
    const expected = await Promise.all(bodies.map((b) => engine.forecast(b)));
    let forecastsDone = 0;
    const all = Promise.all(bodies.map(async (b) => {
      const r = await post(b, base);
      forecastsDone++;
      return r;
    }));
    const health = await fetch(`${base}/healthz`);
    const doneWhenHealthy = forecastsDone;
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { workers: number }).workers, 1);
    const results = await all;
    assert.ok(doneWhenHealthy < bodies.length, `/healthz waited for all ${bodies.length} forecasts`);
    results.forEach((r, j) => {
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, JSON.parse(JSON.stringify(expected[j])));
    });
    const bad = await post({ ...bodies[0], regions: ['nowhere'] }, base);
    assert.equal(bad.status, 400, 'an input error raised in a worker is still a 400 with its path');
    assert.deepEqual(bad.json.path, ['regions', 0]);
  } finally {
    await server.close();
    await pool.close();
  }
});

test('gpd serve (the executable): binds loopback, logs JSON, and SIGTERM drains the requests in flight before exiting 0', async (t) => {
  const child = spawn(process.execPath, [join(root, 'bin/gpd.js'), 'serve', '--run', dir, '--port', '0', '--workers', '1'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const logs: Record<string, unknown>[] = [];
  const lines = createInterface({ input: child.stdout! });
  const listening = new Promise<string>((res, rej) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      const m = /Server listening at (http:\/\/[^ ]+)/.exec(String(entry.msg));
      if (m) res(m[1]!);
    });
    child.once('exit', (code) => rej(new Error(`gpd serve exited with ${code}: ${stderr}`)));
  });
  const base = await listening;
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  const count = 150;
  const received = () => logs.filter((l) => l.msg === 'incoming request').length;
  const body = forecastRequestFromCity(fx.target);
  let signalled = -1;
  const times: number[] = [];
  const requests = Array.from({ length: count }, () =>
    post(body, base).then((r) => {
      times.push(performance.now());
      return r.status;
    }),
  );
  // SIGTERM once the server has every request, while the single worker still has most of them queued.
  while (received() < count) await new Promise((r) => setTimeout(r, 2));
  signalled = performance.now();
  child.kill('SIGTERM');
  const statuses = await Promise.all(requests);
  const code = await new Promise<number | null>((res) => (child.exitCode !== null ? res(child.exitCode) : child.once('exit', res)));
  // Not held open by the clients' keep-alive connections (their idle timeout is 72 s): measured ~1 s.
  assert.ok(performance.now() - signalled < 30_000, `exit took ${((performance.now() - signalled) / 1000).toFixed(1)} s after SIGTERM`);
  assert.deepEqual([...new Set(statuses)], [200], 'a request in flight at SIGTERM was not answered');
  const drained = times.filter((x) => x > signalled).length;
  t.diagnostic(`${drained} of ${count} requests were answered after SIGTERM`);
  assert.ok(drained > 0, 'every request finished before SIGTERM: nothing was drained');
  assert.equal(code, 0, stderr);
  assert.ok(logs.some((l) => l.msg === 'draining in-flight requests' && l.signal === 'SIGTERM'));
  assert.ok(logs.every((l) => typeof l.level === 'number' && typeof l.time === 'number'), 'every log line is pino JSON');
  await assert.rejects(fetch(`${base}/healthz`), 'the server still accepts connections after shutdown');
});
