/**
 * Issue list 1 (no lock on output folders), with real processes: a second command on a folder in use
 * is refused by name while the first finishes with exactly what a lone run makes; a second process
 * killed with -9 leaves the first's lock alone; the lock of a process killed with -9 is taken over by
 * the rerun, which finishes the job with a lone run's output.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_FILE, type LockOwner } from '../../src/util/lock.js';
import { TINY_BANK, TINY_RUN, bankVectors, cli, removeDir, scores, spawnGpd, tempDir, waitFor } from './harness.js';

/** A bank build long enough (3 regions x 6 epochs) for a second process to start while it runs. */
const SLOW_BANK = ['bank', 'build', '--city', 'synthetic:synth-a', ...TINY_BANK, '--set', 'bank.maxRegions=3', '--set', 'bank.epochs=6', '--set', 'bank.patience=100'];
/** A transfer whose generator trains for a while (60 steps) with the loss log growing. */
const SLOW_RUN = ['transfer', '--no-report', ...TINY_RUN, '--set', 'diffusion.steps=60'];

let dir: string;
let loneBank: Map<string, Buffer>;

before(async () => {
  dir = tempDir('concurrent');
  const r = await cli(...SLOW_BANK, '--bank', join(dir, 'lone-bank'));
  assert.equal(r.status, 0, r.stderr);
  loneBank = bankVectors(join(dir, 'lone-bank'));
  assert.equal(loneBank.size, 4, 'shared model + 3 regions');
});
after(() => removeDir(dir));

const lockOwner = (folder: string): LockOwner | null => {
  try {
    return JSON.parse(readFileSync(join(folder, LOCK_FILE), 'utf8')) as LockOwner;
  } catch {
    return null;
  }
};

test('two bank builds into one folder: the second is refused by name, a second killed with -9 changes nothing, the first makes a lone bank', async () => {
  const bank = join(dir, 'bank-a');
  const first = spawnGpd([...SLOW_BANK, '--bank', bank]);
  await waitFor('the first build to lock the folder', () => lockOwner(bank)?.pid === first.child.pid);
  // A third process on the folder, killed with -9 wherever it got to meanwhile: the first's lock stays.
  const third = spawnGpd([...SLOW_BANK, '--bank', bank]);
  const second = await cli(...SLOW_BANK, '--bank', bank);
  assert.equal(second.status, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`${bank} is in use by pid ${first.child.pid} \\(gpd bank build\\) since \\d{4}-\\d\\d-\\d\\dT`));
  third.child.kill('SIGKILL');
  await third.done;
  assert.equal(lockOwner(bank)?.pid, first.child.pid, 'the lock still names the first build');
  const r = await first.done;
  assert.equal(r.status, 0, r.stderr);
  assert.equal(existsSync(join(bank, LOCK_FILE)), false, 'the lock is released at exit');
  assert.deepEqual(bankVectors(bank), loneBank, 'the first build stored exactly the lone build bank');
});

test('a build killed with -9 leaves a stale lock; the rerun takes it over and ends with the lone bank', async () => {
  const bank = join(dir, 'bank-killed');
  const first = spawnGpd([...SLOW_BANK, '--bank', bank]);
  // Kill it once a region is stored (mid-build, with its lock held).
  await waitFor('a stored region', () => existsSync(join(bank, 'regions', 'synth-a', 'r0.safetensors')));
  first.child.kill('SIGKILL');
  const killed = await first.done;
  assert.equal(killed.signal, 'SIGKILL');
  assert.equal(lockOwner(bank)?.pid, first.child.pid, 'the killed build left its lock');
  const rerun = await cli(...SLOW_BANK, '--bank', bank);
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stdout, /already done/);
  assert.equal(existsSync(join(bank, LOCK_FILE)), false);
  assert.deepEqual(bankVectors(bank), loneBank);
});

test('two transfers in one run folder: the second is refused by name; the first has one loss record per step and the lone run scores', async () => {
  const run = join(dir, 'run-a');
  const first = spawnGpd([...SLOW_RUN, '-o', run]);
  await waitFor('the first transfer to lock the run folder', () => lockOwner(run)?.pid === first.child.pid);
  const second = await cli(...SLOW_RUN, '-o', run);
  assert.equal(second.status, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`${run} is in use by pid ${first.child.pid} \\(gpd transfer\\)`));
  const r = await first.done;
  assert.equal(r.status, 0, r.stderr);
  const log = readFileSync(join(run, 'generator', 'training', 'loss.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(log.map((l) => (JSON.parse(l) as { step: number }).step), Array.from({ length: 60 }, (_, i) => i + 1));
  const lone = join(dir, 'run-lone');
  const l = await cli(...SLOW_RUN, '-o', lone);
  assert.equal(l.status, 0, l.stderr);
  assert.deepEqual(scores(run), scores(lone));
  assert.equal(readFileSync(join(run, 'generator', 'training', 'loss.jsonl'), 'utf8'), readFileSync(join(lone, 'generator', 'training', 'loss.jsonl'), 'utf8'));
});
