/**
 * What makes a region job's result reproducible besides its payload: the code that runs it and the
 * tensor engine under it. Jobs carry the coordinator's fingerprint and a worker whose own differs
 * refuses them by name (its vectors could differ from the coordinator's local build), and the
 * fingerprint is part of every job id, so a result computed by other code is never collected.
 *
 * Fingerprint = sha256 over every source file of src/ (path and content, sorted), the tfjs packages'
 * versions and the backend name; the first 16 hex digits are shown.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const ROOT = join(SRC, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? sourceFiles(p) : /\.(ts|js|mjs|json)$/.test(name) ? [p] : [];
    })
    .sort();
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'absent';
  }
}

let cached: { code: string; at: string } | null = null;

/** The fingerprint of this build on `backend` (the name the worker threads report). */
export function codeFingerprint(backend: string): string {
  if (!cached) {
    const h = createHash('sha256');
    for (const f of sourceFiles(SRC)) h.update(relative(SRC, f)).update('\0').update(readFileSync(f)).update('\0');
    cached = { code: h.digest('hex'), at: SRC };
  }
  const deps = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node'].map((p) => `${p}@${packageVersion(p)}`).join(',');
  return createHash('sha256').update(`${cached.code}|${deps}|${backend}`).digest('hex').slice(0, 16);
}
