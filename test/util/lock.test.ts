/**
 * The folder lock (util/lock.ts): refused by name while held, released, stale locks (dead pid, reused
 * pid, damaged file) taken over, another host's lock left alone, and of several processes racing for
 * one stale lock exactly one wins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LOCK_FILE, lockFolder, withFolderLock, type LockOwner } from '../../src/util/lock.js';
import { FolderInUseError } from '../../src/util/errors.js';

const root = resolve(new URL('../..', import.meta.url).pathname);

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpd-lock-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const owner = (dir: string) => JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as LockOwner;
const plant = (dir: string, o: Partial<LockOwner>) =>
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: hostname(), started: null, since: '2020-01-01T00:00:00.000Z', purpose: 'gpd old', token: 'old', ...o }));

test('a held folder is refused by name (pid, purpose, since); released, it can be taken again', withDir((dir) => {
  const lock = lockFolder(dir, 'gpd bank build');
  assert.equal(owner(dir).pid, process.pid);
  assert.throws(
    () => lockFolder(dir, 'gpd transfer'),
    (e: Error) => e instanceof FolderInUseError && e.message.includes(`${dir} is in use by pid ${process.pid} (gpd bank build) since ${lock.owner.since}`),
  );
  lock.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  lock.release(); // idempotent
  lockFolder(dir, 'again').release();
}));

test('withFolderLock releases when the work throws; a missing folder is created', withDir(async (dir) => {
  const sub = join(dir, 'a', 'b');
  await assert.rejects(withFolderLock(sub, 'x', async () => {
    assert.ok(existsSync(join(sub, LOCK_FILE)));
    throw new Error('boom');
  }), /boom/);
  assert.equal(existsSync(join(sub, LOCK_FILE)), false);
}));

test('stale locks are taken over: a dead pid, a reused pid (other start time), a damaged file', withDir((dir) => {
  // A pid that existed and has exited.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  plant(dir, { pid: dead });
  const a = lockFolder(dir, 'after a dead owner');
  assert.equal(owner(dir).token, a.owner.token);
  a.release();
  if (existsSync('/proc/self/stat')) {
    // This very process, but recorded with another start time: the pid was reused.
    plant(dir, { pid: process.pid, started: '1' });
    const b = lockFolder(dir, 'after a reused pid');
    assert.equal(owner(dir).token, b.owner.token);
    b.release();
  }
  // A damaged leftover (an unreadable lock younger than 2 s counts as being written: see the next test).
  writeFileSync(join(dir, LOCK_FILE), '{"pid": 12');
  utimesSync(join(dir, LOCK_FILE), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  lockFolder(dir, 'after a damaged lock').release();
}));

test('an unreadable lock just created (the O_EXCL fallback writing its owner) is not taken over', withDir((dir) => {
  writeFileSync(join(dir, LOCK_FILE), '');
  assert.throws(() => lockFolder(dir, 'x'), (e: Error) => e instanceof FolderInUseError && /could not take its lock/.test(e.message));
}));

test("another host's lock is never taken over: the message says which host and which file to delete", withDir((dir) => {
  plant(dir, { host: 'elsewhere.example', pid: 4242 });
  assert.throws(() => lockFolder(dir, 'x'), (e: Error) => e instanceof FolderInUseError && /pid 4242 on host elsewhere\.example \(gpd old\)/.test(e.message) && e.message.includes(`delete ${join(dir, LOCK_FILE)}`));
}));

test('release leaves a lock that is no longer ours alone', withDir((dir) => {
  const lock = lockFolder(dir, 'x');
  plant(dir, { pid: process.pid, token: 'someone-else' });
  lock.release();
  assert.equal(owner(dir).token, 'someone-else');
}));

test('of four processes racing for one stale lock, exactly one takes it', withDir(async (dir) => {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  plant(dir, { pid: dead });
  // The winner holds the lock until every racer has answered (the file "go" appears).
  const go = join(dir, 'go');
  const script = `import { lockFolder } from ${JSON.stringify(join(root, 'src/util/lock.ts'))};
    import { existsSync } from 'node:fs';
    try { lockFolder(${JSON.stringify(dir)}, 'racer'); console.log('got'); const t = setInterval(() => existsSync(${JSON.stringify(go)}) && clearInterval(t), 20); }
    catch (e) { console.log(e.name); }`;
  const answers: Promise<string>[] = [];
  const exits: Promise<void>[] = [];
  for (let i = 0; i < 4; i++) {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
    answers.push(new Promise((res) => p.stdout.once('data', (d) => res(String(d).trim()))));
    exits.push(new Promise((res) => p.on('close', () => res())));
  }
  const results = (await Promise.all(answers)).sort();
  writeFileSync(go, '');
  await Promise.all(exits);
  assert.deepEqual(results, ['FolderInUseError', 'FolderInUseError', 'FolderInUseError', 'got'], results.join(', '));
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'the winner released the lock at exit');
}));
