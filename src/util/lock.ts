/**
 * An exclusive lock per output folder (a bank, a run folder, a generator folder), so that two
 * processes never write one folder at once: the second is refused by name ("<folder> is in use by
 * pid N (gpd bank build) since T"), and the lock of a process that died (kill -9, power loss) is
 * taken over by the next one.
 *
 *   const lock = lockFolder(dir, 'gpd bank build');   // before the first write; FolderInUseError if held
 *   try { ...write... } finally { lock.release(); }
 *   // or: await withFolderLock(dir, 'gpd transfer', async () => { ...write... });
 *
 * The lock is the file `<dir>/.gpd-lock` holding its owner (pid, host, process start time, since,
 * purpose, a random token). It is created complete and atomically with link(2) (fails if it exists),
 * so no reader ever sees a half-written owner (on a file system without hard links: O_EXCL, and a
 * lock without a readable owner counts as held for its first 2 s). A lock whose owner is gone (same host, pid not running,
 * or running but started at another time: a reused pid) is stale; the takeover is serialised by a
 * second, short-lived lock file so two newcomers cannot both take it. A lock from another host is
 * never taken over (its pid cannot be checked there): the message says so. Locks are not re-entrant:
 * taking the same folder twice, even in one process, is refused. Every lock still held is released
 * when the process exits normally.
 *
 * Why not proper-lockfile: it judges staleness by an mtime its owner refreshes on a timer, so a run
 * that blocks its event loop (a long synchronous training step) loses its lock, and a dead owner's
 * lock is only taken over after the stale period; the owner's pid decides both at once and exactly.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { ensureDir } from './atomic.js';
import { FolderInUseError, rethrowStorage } from './errors.js';

export const LOCK_FILE = '.gpd-lock';

export interface LockOwner {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (Linux), to tell a reused pid; null elsewhere. */
  started: string | null;
  /** ISO time the lock was taken. */
  since: string;
  /** What holds it (e.g. "gpd bank build"). */
  purpose: string;
  token: string;
}

export interface FolderLock {
  readonly dir: string;
  readonly owner: LockOwner;
  /** Remove the lock (idempotent; leaves a lock that is no longer ours alone). */
  release(): void;
}

/** Start time of a process from /proc (field 22 of /proc/<pid>/stat), or null where there is none. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the owner may still be running (true when it cannot be told: another host). */
export function ownerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = processStart(owner.pid);
  return owner.started === null || started === null || started === owner.started;
}

function readOwner(file: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
    return typeof o.pid === 'number' && typeof o.token === 'string' ? o : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    // Unreadable content cannot come from lockFolder (the file appears complete): a damaged leftover.
    return null;
  }
}

const held = new Set<FolderLock>();
let exitHook = false;

function describeOwner(dir: string, o: LockOwner, file: string): string {
  const where = o.host === hostname() ? '' : ` on host ${o.host}`;
  const stale = o.host === hostname() ? '' : `; if no gpd runs there any more, delete ${file}`;
  return `${dir} is in use by pid ${o.pid}${where} (${o.purpose}) since ${o.since}: wait for it to finish or stop it, or use another folder${stale}`;
}

/** File systems without hard links (some network and FUSE mounts) answer link(2) with one of these. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/** Try to create `file` holding `content` atomically; false when it exists. */
function createExclusive(file: string, content: string, dir: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
  try {
    writeFileSync(tmp, content);
  } catch (err) {
    rmSync(tmp, { force: true });
    rethrowStorage(err, file);
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_LINKS.has(code)) rethrowStorage(err, join(dir, LOCK_FILE));
  } finally {
    rmSync(tmp, { force: true });
  }
  // Without hard links: O_EXCL creation, then the content (a reader may briefly find it empty).
  try {
    writeFileSync(file, content, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    rethrowStorage(err, join(dir, LOCK_FILE));
  }
}

/** A lock file with no readable owner that was just created is being written (O_EXCL fallback), not stale. */
function justCreated(file: string): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs < 2000;
  } catch {
    return false;
  }
}

/**
 * Remove the stale lock whose token is `staleToken`, holding the takeover file meanwhile so that of
 * two processes finding the same stale lock only one removes it (the other then finds the new lock).
 */
function removeStale(file: string, staleToken: string, me: LockOwner, dir: string): void {
  const guard = `${file}.takeover`;
  if (!createExclusive(guard, JSON.stringify(me), dir)) {
    const g = readOwnerOrNull(guard);
    // A takeover whose process died within it: clear it; the caller retries.
    if (!g || !ownerAlive(g)) rmSync(guard, { force: true });
    return;
  }
  try {
    const current = readOwnerOrNull(file);
    if (current === null || current.token === staleToken) rmSync(file, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}

function readOwnerOrNull(file: string): LockOwner | null {
  try {
    return readOwner(file);
  } catch {
    return null;
  }
}

/** Take the lock of `dir` (created if missing) for `purpose`; FolderInUseError when a live process holds it. */
export function lockFolder(dir: string, purpose: string): FolderLock {
  const abs = resolve(dir);
  ensureDir(abs);
  const file = join(abs, LOCK_FILE);
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    started: processStart(process.pid),
    since: new Date().toISOString(),
    purpose,
    token: randomBytes(8).toString('hex'),
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    if (createExclusive(file, JSON.stringify(owner), abs)) {
      const lock: FolderLock = {
        dir: abs,
        owner,
        release() {
          if (!held.delete(lock)) return;
          if (readOwnerOrNull(file)?.token === owner.token) rmSync(file, { force: true });
        },
      };
      held.add(lock);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => {
          for (const l of [...held]) l.release();
        });
      }
      return lock;
    }
    let current: LockOwner | null;
    try {
      current = readOwner(file);
    } catch {
      continue; // released between our attempt and the read: try again
    }
    if (current && ownerAlive(current)) throw new FolderInUseError(describeOwner(dir, current, file));
    if (!current && justCreated(file)) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      continue;
    }
    removeStale(file, current?.token ?? '', owner, abs);
    // Another process may be mid-takeover: give it a moment before looking again.
    if (attempt > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
  throw new FolderInUseError(`${dir}: could not take its lock ${file} (it is being written or keeps changing hands); try again, and if no gpd uses the folder, delete ${file}`);
}

/** Run `fn` holding the lock of `dir`; released however `fn` ends. */
export async function withFolderLock<T>(dir: string, purpose: string, fn: () => Promise<T>): Promise<T> {
  const lock = lockFolder(dir, purpose);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
