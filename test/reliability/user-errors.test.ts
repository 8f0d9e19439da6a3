/**
 * Issue list 3 (stack traces with exit 1 for ordinary user errors): each is exit 2 with one message
 * naming the folder, option, city, file or key, and the corrected command succeeds in the same place.
 * EACCES and ENOSPC run the real executable (as another user; in a mount namespace with a small tmpfs).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZERO_SHOT_SCALE_GRID } from '../../src/transfer/zero-shot-scale.js';
import { GPD, TINY_BANK, TINY_DATA, TINY_RUN, bankVectors, cli, gpdSync, hasStack, removeDir, tempDir, twiceInMountNamespace } from './harness.js';

const SOURCES = ['--city', 'synthetic:synth-a', 'synthetic:synth-b'];
const TINY_DIFFUSION = TINY_RUN.slice(TINY_BANK.length);

let dir: string;
let bank: string;
before(async () => {
  dir = tempDir('user-errors');
  bank = join(dir, 'bank');
  const r = await cli('bank', 'build', ...SOURCES, '--bank', bank, ...TINY_BANK);
  assert.equal(r.status, 0, r.stderr);
});
after(() => removeDir(dir));

/** Exit 2, the message, no stack. */
function refused(r: { status: number; stderr: string }, message: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, message);
  assert.equal(hasStack(r.stderr), false, `a stack trace was printed:\n${r.stderr}`);
}

test('bank inspect on a missing folder names it and how to build one', async () => {
  refused(await cli('bank', 'inspect', join(dir, 'nonexistent')), /nonexistent is not a parameter bank: .*index\.json does not exist; build one with `gpd bank build --bank .*nonexistent`/);
  const ok = await cli('bank', 'inspect', bank);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /regions 4/);
});

test('diffusion train --bank <missing folder> names it; with the bank it trains into the same -o folder', async () => {
  const out = join(dir, 'generator');
  const args = (b: string) => ['diffusion', 'train', '--bank', b, ...SOURCES, '-o', out, ...TINY_DATA, ...TINY_DIFFUSION];
  refused(await cli(...args(join(dir, 'no-bank'))), /no-bank is not a parameter bank/);
  const ok = await cli(...args(bank));
  assert.equal(ok.status, 0, ok.stderr);
});

test('diffusion sample --generator <missing folder> names it; with the generator it samples', async () => {
  const out = join(dir, 'generated.safetensors');
  const args = (g: string) => ['diffusion', 'sample', '--generator', g, '--city', 'synthetic:synth-d', '-o', out, ...TINY_DATA, '--steps', '3'];
  refused(await cli(...args(join(dir, 'no-generator'))), /no-generator is not a generator folder: .*generator\.json does not exist; train one with `gpd diffusion train -o /);
  // The generator of the previous test (train it here when run alone).
  const gen = join(dir, 'generator');
  await cli('diffusion', 'train', '--bank', bank, ...SOURCES, '-o', gen, ...TINY_DATA, ...TINY_DIFFUSION);
  const ok = await cli(...args(gen));
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /generated 6 models/);
  // The output scale the city's few-shot days chose (sampling.zeroShotScale), said and recorded beside the vectors.
  const said = Number(/output scale ([\d.]+)\)/.exec(ok.stdout)?.[1]);
  assert.ok(ZERO_SHOT_SCALE_GRID.includes(said), ok.stdout);
  assert.equal(JSON.parse(readFileSync(out.replace(/\.safetensors$/, '.json'), 'utf8')).sampling.outputScale, said);
});

for (const [flag, key] of [['--max-regions', 'maxRegions'], ['--group-size', 'groupSize']] as const) {
  test(`${flag} 0 names the option and its bound; the corrected build runs in that folder`, async () => {
    const b = join(dir, `bank-${key}`);
    const args = ['bank', 'build', '--city', 'synthetic:synth-a', '--bank', b, ...TINY_BANK];
    refused(await cli(...args, flag, '0'), new RegExp(`gpd: ${flag} must be a positive integer, got 0`));
    refused(await cli(...args, '--set', `bank.${key}=0`), new RegExp(`bank\\.${key} must be a positive integer, got 0`));
    const ok = await cli(...args, flag, '1');
    assert.equal(ok.status, 0, ok.stderr);
  });
}

test('the same city twice is named; once, it builds', async () => {
  const b = join(dir, 'bank-twice');
  refused(await cli('bank', 'build', '--city', 'synthetic:synth-a', 'synthetic:synth-a', '--bank', b, ...TINY_BANK), /source city synth-a is listed twice/);
  const ok = await cli('bank', 'build', '--city', 'synthetic:synth-a', '--bank', b, ...TINY_BANK);
  assert.equal(ok.status, 0, ok.stderr);
});

test('-c <a folder> says it is a folder; -c <a config file> works', async () => {
  const b = join(dir, 'bank-c');
  const cfgDir = join(dir, 'configs');
  mkdirSync(cfgDir, { recursive: true });
  refused(await cli('bank', 'build', '--city', 'synthetic:synth-a', '--bank', b, '-c', cfgDir, ...TINY_BANK), /-c .*configs: it is a folder; -c takes a JSON or YAML config file/);
  const file = join(cfgDir, 'bank.yaml');
  writeFileSync(file, 'bank:\n  epochs: 1\n');
  const ok = await cli('bank', 'build', '--city', 'synthetic:synth-a', '--bank', b, '-c', file, ...TINY_BANK);
  assert.equal(ok.status, 0, ok.stderr);
});

test('a bank folder with other settings names each key, old and new, and the fix; the same settings resume it', async () => {
  refused(await cli('bank', 'build', ...SOURCES, '--bank', bank, ...TINY_BANK, '--set', 'bank.epochs=2', '--lr', '0.01'), /holds a bank built with different settings \(epochs: 1 -> 2; lr: 0\.003 -> 0\.01\); use another bank folder, the same settings to resume it, or delete it/);
  const ok = await cli('bank', 'build', ...SOURCES, '--bank', bank, ...TINY_BANK);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /0 regions trained, 4 already done/);
});

test('a truncated region file is named with its fix; following it retrains that region, bit for bit', async () => {
  const b = join(dir, 'bank-truncated');
  const args = ['bank', 'build', '--city', 'synthetic:synth-a', '--bank', b, ...TINY_BANK];
  assert.equal((await cli(...args)).status, 0);
  const before = bankVectors(b);
  const file = join(b, 'regions', 'synth-a', 'r1.safetensors');
  truncateSync(file, 200);
  refused(await cli('bank', 'inspect', b), new RegExp(`safetensors file ${file}: .*runs past the end of the file \\(200 bytes\\); rerun the build that made the bank \\(\`gpd bank build --bank ${b}\` with the same settings`));
  const rerun = await cli(...args);
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stderr, /warning: safetensors file .*r1\.safetensors: .*: retraining that region/);
  assert.match(rerun.stdout, /1 regions trained, 1 already done/);
  assert.equal((await cli('bank', 'inspect', b)).status, 0);
  assert.deepEqual(bankVectors(b), before);
});

test('gpd evaluate on a truncated results.json names the file and the fix; following it works', async () => {
  const run = join(dir, 'run');
  const transfer = ['transfer', '--no-report', '-o', run, ...TINY_RUN];
  assert.equal((await cli(...transfer)).status, 0);
  const results = join(run, 'results.json');
  truncateSync(results, 40);
  refused(await cli('evaluate', run), new RegExp(`${results} is not valid JSON \\(.*\\); delete it and rerun the command that writes it`));
  rmSync(results);
  assert.equal((await cli(...transfer)).status, 0);
  const ok = await cli('evaluate', run);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /target synth-d, 2 regions/);
});

test('EACCES: an output folder the user may not write is named (permission denied); writable, the same command builds there', (t) => {
  const parent = join(dir, 'locked');
  mkdirSync(parent, { recursive: true });
  chmodSync(parent, 0o555);
  chmodSync(dir, 0o755);
  const b = join(parent, 'bank');
  const args = ['bank', 'build', '--city', 'synthetic:synth-a', '--bank', b, ...TINY_BANK];
  // root ignores permissions: run as nobody then (setpriv), else as ourselves.
  const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  if (asUser.length && spawnSync(asUser[0]!, ['--version']).status !== 0) return t.skip('no setpriv to drop root');
  const run = () => (asUser.length ? spawnSync(asUser[0]!, [...asUser.slice(1), process.execPath, GPD, ...args], { encoding: 'utf8' }) : gpdSync(args));
  const bad = run();
  refused({ status: bad.status ?? -1, stderr: String(bad.stderr) }, new RegExp(`gpd: cannot create the folder ${b}: permission denied \\(EACCES\\); choose an output folder you can write to`));
  chmodSync(parent, 0o777);
  const ok = run();
  assert.equal(ok.status, 0, String(ok.stderr));
});

test('ENOSPC: a full disk is named with the file being written; with space, the same command finishes in that folder', (t) => {
  const mnt = join(dir, 'small-disk');
  const b = join(mnt, 'bank');
  // A 40 kB tmpfs (the shared model alone is 68 kB), then the same command with room.
  const runs = twiceInMountNamespace(mnt, ['bank', 'build', '--city', 'synthetic:synth-a', '--bank', b, ...TINY_BANK], `mount -t tmpfs -o size=40k tmpfs '${mnt}'`, `mount -o remount,size=4m '${mnt}'`);
  if (!runs) return t.skip('no user and mount namespaces (unshare -rm)');
  refused(runs[0], new RegExp(`gpd: cannot write ${b}/shared\\.safetensors: no space left on the device \\(ENOSPC\\); free some space`));
  assert.equal(runs[1].status, 0, runs[1].stderr);
  assert.match(runs[1].stdout, /2 regions trained/);
});

test('GPD_DEBUG=1 shows where a user error was raised; without it, one message and no stack', () => {
  const args = ['bank', 'inspect', join(dir, 'nonexistent')];
  const plain = gpdSync(args);
  refused(plain, /is not a parameter bank/);
  const debug = gpdSync(args, { env: { ...process.env, GPD_DEBUG: '1' } });
  assert.equal(debug.status, 2);
  assert.match(debug.stderr, /is not a parameter bank/);
  assert.match(debug.stderr, /at readIndex \(.*src\/bank\/store\.ts:\d+:\d+\)/);
});
