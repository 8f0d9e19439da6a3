import { mkdirSync, renameSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { rethrowStorage, StorageError } from './errors.js';

/**
 * Create `dir` and its missing parents. Each missing level is made by its own mkdir, so a refusal
 * comes back with the real reason (Node's recursive mkdir reports a read-only file system as
 * "ENOENT", and loops forever under /proc) as a StorageError naming the folder.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  for (;;) {
    let isDir: boolean | undefined;
    try {
      isDir = statSync(d).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') rethrowStorage(err, d, 'create the folder');
    }
    if (isDir === true) break;
    if (isDir === false) throw new StorageError(d, 'ENOTDIR', `cannot create the folder ${dir}: ${d} is a file, not a folder`);
    missing.push(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') rethrowStorage(err, m, 'create the folder');
    }
  }
}

/**
 * Write a file so that readers (and a resumed run) see either the old content or the complete new
 * content, never a half-written file: write to a temp file in the same folder, then rename. A
 * refusal of the file system (no space, permission, read-only) is a StorageError naming `path`.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  ensureDir(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    rethrowStorage(err, path);
  }
}

/** JSON.stringify + atomic write, pretty-printed. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}
