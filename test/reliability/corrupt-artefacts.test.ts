/**
 * Issue list 4 (corrupt artefacts): a damaged artefact of a run folder is caught on read. A cache
 * (a bank region, an evaluation region) is recomputed by the rerun, with a warning naming it; any
 * other artefact (the generator, the generated vectors) is named with its fix, and following the fix
 * ends with the scores of the undamaged run. Each test works on a copy of one finished tiny run.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../../src/util/safetensors.js';
import { TINY_RUN, bankVectors, cli, hasStack, removeDir, scores, tempDir } from './harness.js';

let dir: string;
let base: string;
const transfer = (run: string) => cli('transfer', '--no-report', '-o', run, ...TINY_RUN);

before(async () => {
  dir = tempDir('corrupt');
  base = join(dir, 'base');
  const r = await transfer(base);
  assert.equal(r.status, 0, r.stderr);
});
after(() => removeDir(dir));

/** A fresh copy of the finished run, without its results (so the rerun goes through every stage). */
function copyRun(name: string): string {
  const run = join(dir, name);
  cpSync(base, run, { recursive: true });
  rmSync(join(run, 'results.json'));
  return run;
}

function refused(r: { status: number; stderr: string }, message: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, message);
  assert.equal(hasStack(r.stderr), false, r.stderr);
}

test('a truncated generator/weights.safetensors is named with its fix; following it gives the same scores', async () => {
  const run = copyRun('weights');
  const file = join(run, 'generator', 'weights.safetensors');
  truncateSync(file, 100);
  refused(await transfer(run), new RegExp(`safetensors file ${file}: header length \\d+ runs past the end of the file \\(100 bytes\\); delete ${join(run, 'generator')} and rerun the command that trained it`));
  rmSync(join(run, 'generator'), { recursive: true });
  const r = await transfer(run);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(scores(run), scores(base));
});

test('a truncated generated.safetensors is named with its fix; following it gives the same scores', async () => {
  const run = copyRun('generated');
  const file = join(run, 'generated.safetensors');
  truncateSync(file, readFileSync(file).length - 10);
  refused(await transfer(run), new RegExp(`safetensors file ${file}, tensor "vectors": .* run past the data buffer .*; delete ${file} and rerun the same command to recompute it`));
  rmSync(file);
  const r = await transfer(run);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(scores(run), scores(base));
});

test('a truncated eval/region-*.safetensors is a cache: the rerun warns, scores that region again and gets the same scores', async () => {
  const run = copyRun('eval');
  const name = readdirSync(join(run, 'eval'))[0]!;
  const file = join(run, 'eval', name);
  truncateSync(file, 64);
  const r = await transfer(run);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: safetensors file ${file}: .*: scoring that region again`));
  assert.deepEqual(scores(run), scores(base));
  assert.deepEqual(readFileSync(file), readFileSync(join(base, 'eval', name)));
});

test('a bank vector with 1e30 written into it, or NaN: bank inspect names the file; the rerun retrains the region bit for bit', async () => {
  const run = copyRun('bank');
  const bank = join(run, 'bank');
  const r0 = join(bank, 'regions', 'synth-a', 'r0.safetensors');
  const r1 = join(bank, 'regions', 'synth-b', 'r1.safetensors');
  // 1e30 written over one value in place: only the checksum can tell.
  const bytes = readFileSync(r0);
  bytes.writeFloatLE(1e30, 8 + Number(bytes.readBigUInt64LE(0)) + 40);
  writeFileSync(r0, bytes);
  refused(await cli('bank', 'inspect', bank), new RegExp(`safetensors file ${r0}: checksum mismatch .*; rerun the build that made the bank`));
  // NaN written by a tool that also rewrote the checksum: refused as non-finite.
  const { tensors, metadata } = readSafetensors(r1);
  (tensors['params']!.data as Float32Array)[7] = NaN;
  writeSafetensors(r1, tensors, metadata);
  writeFileSync(r0, readFileSync(join(base, 'bank', 'regions', 'synth-a', 'r0.safetensors')));
  refused(await cli('bank', 'inspect', bank), new RegExp(`${r1} holds a non-finite value \\(NaN at index 7 of \\d+\\); rerun the build`));
  // Damaged again, both: the same transfer retrains them (they no longer count as done).
  writeFileSync(r0, bytes);
  const rerun = await transfer(run);
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stderr, /r0\.safetensors: checksum mismatch .*: retraining that region/);
  assert.match(rerun.stderr, /r1\.safetensors holds a non-finite value .*: retraining that region/);
  const inspect = await cli('bank', 'inspect', bank);
  assert.equal(inspect.status, 0, inspect.stderr);
  assert.match(inspect.stdout, /parameters: mean -?\d/);
  assert.deepEqual(bankVectors(bank), bankVectors(join(base, 'bank')));
  assert.deepEqual(scores(run), scores(base));
});
