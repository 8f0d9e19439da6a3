/**
 * Running gpd for the reliability tests, on tiny synthetic budgets:
 *   cli(args)        the CLI's own entry (runCli: commander, the commands, reportCliError) in this
 *                    process, its exit code and what it printed; no process start-up per call
 *   spawnGpd(args)   the real executable bin/gpd.js as its own process, for what needs one: two
 *                    processes on one folder, kill -9, another user, a mount namespace
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import type { City } from '../../src/data/city.js';
import { syntheticCities } from '../../src/data/resolve.js';

export const root = resolve(new URL('../..', import.meta.url).pathname);
export const GPD = join(root, 'bin', 'gpd.js');

const set = (...kv: string[]) => kv.flatMap((x) => ['--set', x]);

/** Synthetic cities of 6 regions over 7 days (data.synthetic*: every command that reads synthetic cities takes them). */
export const TINY_DATA = set('data.syntheticNodes=6', 'data.syntheticDays=7');

/** A bank of 2 regions per city, 1 epoch, trained in the main thread (a second or two). */
export const TINY_BANK = [...TINY_DATA, ...set('bank.maxRegions=2', 'bank.epochs=1', 'bank.sharedEpochs=1', 'bank.workers=0')];

/** A whole transfer (two sources, 2 target regions) in a few seconds. */
export const TINY_RUN = [
  ...TINY_BANK,
  ...set(
    'data.sources=["synthetic:synth-a","synthetic:synth-b"]',
    'data.target=synthetic:synth-d',
    'data.maxTargetRegions=2',
    'diffusion.steps=5',
    'diffusion.width=16',
    'diffusion.layers=1',
    'diffusion.heads=2',
    'diffusion.tokenSize=2048',
    'sampling.steps=3',
    'finetune.epochs=1',
    'finetune.minStepsPerEpoch=1',
  ),
];

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `gpd <args>` in this process and capture its output. console.* and process.stderr are
 * captured (the commands print through them); process.stdout is left to the test runner.
 */
export async function cli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { log: console.log, error: console.error, warn: console.warn, write: process.stderr.write };
  const text = (a: unknown[]) => a.map(String).join(' ') + '\n';
  console.log = (...a: unknown[]) => void out.push(text(a));
  console.error = (...a: unknown[]) => void err.push(text(a));
  console.warn = (...a: unknown[]) => void err.push(text(a));
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  }) as typeof process.stderr.write;
  // The commands record process.argv as the run's command line.
  const argv = process.argv;
  process.argv = ['node', 'gpd', ...args];
  try {
    const status = await runCli(process.argv);
    return { status, stdout: out.join(''), stderr: err.join('') };
  } finally {
    Object.assign(console, { log: saved.log, error: saved.error, warn: saved.warn });
    process.stderr.write = saved.write;
    process.argv = argv;
  }
}

/** The real executable, synchronously (its own process). */
export function gpdSync(args: string[], opts: SpawnSyncOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [GPD, ...args], { encoding: 'utf8', timeout: 240_000, ...opts });
  return { status: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** The real executable in the background; `done` resolves with its exit status and output. */
export function spawnGpd(args: string[]): { child: ChildProcess; done: Promise<CliResult & { signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [GPD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((res) => child.on('close', (code, signal) => res({ status: code ?? -1, signal, stdout, stderr })));
  return { child, done };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `gpd-rel-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Every file under `dir` (relative paths, sorted) with its bytes: two folders with equal maps hold the same artefacts. */
export function folderFiles(dir: string, skip: (rel: string) => boolean = () => false): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const visit = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      if (skip(rel)) continue;
      if (statSync(p).isDirectory()) visit(p);
      else out.set(rel, readFileSync(p));
    }
  };
  if (existsSync(dir)) visit(dir);
  return out;
}

/** The parameter vectors of a bank folder, by region file, as raw bytes of the "params" tensor. */
export function bankVectors(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [rel, bytes] of folderFiles(dir)) {
    if (!rel.endsWith('.safetensors')) continue;
    const n = Number(bytes.readBigUInt64LE(0));
    out.set(rel, bytes.subarray(8 + n));
  }
  return out;
}

/** A finished run's scores without its timing (the only field that differs between equal runs). */
export function scores(runDir: string): unknown {
  const r = JSON.parse(readFileSync(join(runDir, 'results.json'), 'utf8')) as Record<string, unknown>;
  delete r['wallSeconds'];
  return r;
}

/** True when one stderr line holds a stack frame ("    at f (file:line:col)"). */
export const hasStack = (stderr: string) => /^\s+at .+:\d+:\d+\)?$/m.test(stderr);

/**
 * A city as files a user would write (wide CSV series with timestamps, dense adjacency, coordinates,
 * embeddings, categories) and its manifest `<dir>/city.json`; `cell` may replace one series cell
 * (0-based data row and node) to plant a data error. Returns the manifest path.
 */
export function writeCity(dir: string, city: City, cell?: { row: number; node: number; text: string }): string {
  mkdirSync(dir, { recursive: true });
  const { N, T } = city;
  const rows = [['time', ...city.nodeIds].join(',')];
  for (let t = 0; t < T; t++) {
    const values = Array.from({ length: N }, (_, n) => (cell && cell.row === t && cell.node === n ? cell.text : String(city.series[t * N + n])));
    rows.push([new Date(city.timestamps![t]!).toISOString(), ...values].join(','));
  }
  writeFileSync(join(dir, 'series.csv'), rows.join('\n') + '\n');
  const matrix = (data: Float32Array, cols: number) => Array.from({ length: data.length / cols }, (_, r) => Array.from(data.subarray(r * cols, (r + 1) * cols), String).join(',')).join('\n') + '\n';
  writeFileSync(join(dir, 'adjacency.csv'), matrix(city.adjacency, N));
  const a = city.attributes;
  writeFileSync(join(dir, 'coords.csv'), 'x,y\n' + matrix(a.coords!, 2));
  const emb = Object.entries(a.embeddings ?? {});
  for (const [name, e] of emb) writeFileSync(join(dir, `${name}.csv`), matrix(e.data, e.dim));
  const cats = Object.entries(a.categories ?? {});
  for (const [name, c] of cats) writeFileSync(join(dir, `${name}.csv`), Array.from(c, String).join('\n') + '\n');
  const manifest = {
    id: city.id,
    intervalMinutes: city.intervalMinutes,
    series: { format: 'wide-csv', file: 'series.csv', timestampColumn: 'time' },
    adjacency: { format: 'dense-csv', file: 'adjacency.csv' },
    attributes: {
      coords: { format: 'csv-columns', file: 'coords.csv', x: 'x', y: 'y', kind: 'planar' },
      embeddings: Object.fromEntries(emb.map(([name]) => [name, { format: 'dense-csv', file: `${name}.csv` }])),
      categories: Object.fromEntries(cats.map(([name]) => [name, { format: 'csv-column', file: `${name}.csv` }])),
    },
  };
  const file = join(dir, 'city.json');
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  return file;
}

/** The embedded synthetic city `id` at the TINY_DATA size. */
export function tinySynthetic(id: string): City {
  return syntheticCities({ seed: 7, nodes: 6, days: 7, cities: 4 }).find((c) => c.id === id)!;
}

/**
 * The real executable run twice in a private mount namespace (`unshare -rm`, so no mount outlives the
 * test), at `mnt`: `setup` (shell) before the first run, `between` before the second; undefined where
 * user and mount namespaces are not available.
 */
export function twiceInMountNamespace(mnt: string, args: string[], setup: string, between: string): [CliResult, CliResult] | undefined {
  if (spawnSync('unshare', ['-rm', 'true']).status !== 0) return undefined;
  mkdirSync(mnt, { recursive: true });
  const out = mkdtempSync(join(tmpdir(), 'gpd-rel-ns-'));
  try {
    const gpd = [process.execPath, GPD, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const run = (k: number) => `${gpd} > '${out}/${k}.out' 2> '${out}/${k}.err'; echo $? > '${out}/${k}.rc'`;
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', `${setup} && { ${run(1)}; ${between} && ${run(2)}; }`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount namespace script failed: ${r.stderr}`);
    const read = (k: number): CliResult => ({ status: Number(readFileSync(join(out, `${k}.rc`), 'utf8')), stdout: readFileSync(join(out, `${k}.out`), 'utf8'), stderr: readFileSync(join(out, `${k}.err`), 'utf8') });
    return [read(1), read(2)];
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
