/**
 * Issue list 5 (inconsistent or misleading checks): one bound for --epochs and bank.epochs, a
 * read-only file system named as such, 1e400 called out of range wherever it is written, file
 * content quoted escaped and short, manifest files outside the manifest's folder shown by `data
 * inspect`, --set with broken JSON named, and gpd evaluate's hint giving the run's own command.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TINY_BANK, TINY_RUN, twiceInMountNamespace, bankVectors, cli, hasStack, removeDir, tempDir, tinySynthetic, writeCity } from './harness.js';

let dir: string;
before(() => {
  dir = tempDir('checks');
});
after(() => removeDir(dir));

/** TINY_BANK without its epochs (a --set would override the --epochs flag). */
const BANK_NO_EPOCHS = TINY_BANK.filter((a, i) => a !== 'bank.epochs=1' && TINY_BANK[i + 1] !== 'bank.epochs=1');
const build = (bank: string, ...more: string[]) => cli('bank', 'build', '--city', 'synthetic:synth-a', '--bank', bank, ...BANK_NO_EPOCHS, ...more);

function refused(r: { status: number; stderr: string }, message: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, message);
  assert.equal(hasStack(r.stderr), false, r.stderr);
}

test('--epochs 0 and --set bank.epochs=0 are the same setting: both build, the same bank (the initial parameters)', async () => {
  const a = await build(join(dir, 'epochs-flag'), '--epochs', '0');
  const b = await build(join(dir, 'epochs-set'), '--set', 'bank.epochs=0');
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.status, 0, b.stderr);
  assert.deepEqual(bankVectors(join(dir, 'epochs-flag')), bankVectors(join(dir, 'epochs-set')));
  const index = JSON.parse(readFileSync(join(dir, 'epochs-flag', 'index.json'), 'utf8')) as { settings: { epochs: number } };
  assert.equal(index.settings.epochs, 0);
  refused(await build(join(dir, 'epochs-neg'), '--epochs', '-1'), /gpd: --epochs must be an integer >= 0, got -1/);
  refused(await build(join(dir, 'epochs-neg'), '--set', 'bank.epochs=-1'), /bank\.epochs must be an integer >= 0, got -1/);
});

test('a read-only file system is named as such (not "file not found"); writable, the same command builds there', (t) => {
  const mnt = join(dir, 'ro-disk');
  const b = join(mnt, 'bank');
  const runs = twiceInMountNamespace(mnt, ['bank', 'build', '--city', 'synthetic:synth-a', '--bank', b, ...TINY_BANK], `mount -t tmpfs tmpfs '${mnt}' && mount -o remount,ro '${mnt}'`, `mount -o remount,rw '${mnt}'`);
  if (!runs) return t.skip('no user and mount namespaces (unshare -rm)');
  refused(runs[0], new RegExp(`gpd: cannot create the folder ${b}: the file system is read-only \\(EROFS\\); choose an output folder you can write to`));
  assert.doesNotMatch(runs[0].stderr, /not found/);
  assert.equal(runs[1].status, 0, runs[1].stderr);
});

test('1e400 is out of range, not "not a number": as a flag, a --set, in a config file and in a data file', async () => {
  const b = join(dir, 'range');
  refused(await build(b, '--lr', '1e400'), /--lr: "1e400" is out of range/);
  refused(await build(b, '--set', 'bank.lr=1e400'), /--set bank\.lr: "1e400" is out of range/);
  const cfg = join(dir, 'range.yaml');
  writeFileSync(cfg, 'bank:\n  lr: 1e400\n');
  refused(await build(b, '-c', cfg), /bank\.lr is out of range, got Infinity/);
  const city = join(dir, 'range-city');
  const manifest = writeCity(city, tinySynthetic('synth-d'), { row: 0, node: 1, text: '1e400' });
  refused(await cli('data', 'inspect', manifest), /series\.csv, line 2, column 3 \(node "synth-d-r1"\): "1e400" is out of range/);
  writeCity(city, tinySynthetic('synth-d'));
  assert.equal((await cli('data', 'inspect', manifest)).status, 0);
  writeFileSync(cfg, 'bank:\n  lr: 0.003\n');
  const ok = await build(b, '-c', cfg);
  assert.equal(ok.status, 0, ok.stderr);
});

test('file content is quoted escaped and at most 80 characters, even from a file outside the manifest folder', async () => {
  // A cell with terminal escapes and a bell, 200 characters long.
  const city = join(dir, 'escape-city');
  const nasty = '\u001b[2J\u0007' + 'x'.repeat(200);
  const manifest = writeCity(city, tinySynthetic('synth-d'), { row: 2, node: 0, text: nasty });
  const r = await cli('data', 'inspect', manifest);
  refused(r, /series\.csv, line 4, column 2 \(node "synth-d-r0"\): "\\u001b\[2J\\u0007x+\.\.\. is not a number/);
  assert.doesNotMatch(r.stderr, /[\u0000-\u0009\u000b-\u001f]/, 'no raw control character reaches the terminal');
  assert.ok(!r.stderr.includes('x'.repeat(80)), 'at most 80 characters of the cell');
  // A manifest whose series file leads out of its folder to a file that is not data.
  const secret = join(dir, 'elsewhere', 'secret.txt');
  mkdirSync(join(dir, 'elsewhere'), { recursive: true });
  writeFileSync(secret, `\u001b]0;owned\u0007${'s'.repeat(300)}\nsecond line\n`);
  const m = JSON.parse(readFileSync(manifest, 'utf8'));
  m.series.file = relative(city, secret);
  writeFileSync(manifest, JSON.stringify(m));
  const out = await cli('data', 'inspect', manifest);
  refused(out, new RegExp(`${secret}, line 1: no column named "time" \\(timestampColumn\\); header starts "\\\\u001b\\]0;owned\\\\u0007s+\\.\\.\\.`));
  assert.doesNotMatch(out.stderr, /[\u0000-\u0009\u000b-\u001f]/);
  assert.ok(!out.stderr.includes('s'.repeat(80)));
  // The same file set up as real data outside the folder (and by an absolute path): allowed, and shown.
  writeCity(join(dir, 'elsewhere'), tinySynthetic('synth-d'));
  m.series.file = relative(city, join(dir, 'elsewhere', 'series.csv'));
  m.adjacency.file = join(dir, 'elsewhere', 'adjacency.csv');
  writeFileSync(manifest, JSON.stringify(m));
  const ok = await cli('data', 'inspect', manifest);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`note: +series\\.file reads ${join(dir, 'elsewhere', 'series.csv')} \\(outside the manifest's folder\\)`));
  assert.match(ok.stdout, new RegExp(`note: +adjacency\\.file reads ${join(dir, 'elsewhere', 'adjacency.csv')} \\(an absolute path\\)`));
  const json = JSON.parse((await cli('data', 'inspect', '--json', manifest)).stdout) as { externalFiles: { key: string; why: string }[] }[];
  assert.deepEqual(json[0]!.externalFiles.map((f) => `${f.key}: ${f.why}`), ['series.file: outside the manifest folder', 'adjacency.file: absolute']);
});

test("--set 'data.sources=[bad json' says it is not valid JSON; corrected, the build runs", async () => {
  const b = join(dir, 'json');
  refused(await cli('bank', 'build', '--bank', b, ...TINY_BANK, '--set', 'data.sources=[bad json'), /--set data\.sources: "\[bad json" is not valid JSON/);
  const ok = await cli('bank', 'build', '--bank', b, ...TINY_BANK, '--set', 'data.sources=["synthetic:synth-a"]');
  assert.equal(ok.status, 0, ok.stderr);
});

test("gpd evaluate on an unfinished run gives the run's own command, -c included; running it finishes the run", async () => {
  const run = join(dir, 'run');
  const cfg = join(dir, 'run.yaml');
  writeFileSync(cfg, 'finetune:\n  epochs: 1\n');
  const command = ['transfer', '--no-report', '-o', run, '-c', cfg, ...TINY_RUN];
  assert.equal((await cli(...command)).status, 0);
  rmSync(join(run, 'results.json'));
  const r = await cli('evaluate', run);
  refused(r, /results\.json not found; the run has not finished: run `gpd transfer --no-report -o \S+ -c \S+run\.yaml --set .*` again to finish it \(it resumes\)/);
  // The hint is a shell command: split by a shell, it gives back the arguments of the run.
  const hinted = /run `(gpd .*)` again/.exec(r.stderr)![1]!;
  const words = spawnSync('sh', ['-c', `printf '%s\\n' ${hinted}`], { encoding: 'utf8' }).stdout.trimEnd().split('\n');
  assert.deepEqual(words, ['gpd', ...command]);
  assert.equal((await cli(...command)).status, 0);
  const ok = await cli('evaluate', run);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /target synth-d, 2 regions/);
});
