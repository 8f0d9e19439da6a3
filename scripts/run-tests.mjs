#!/usr/bin/env node
// Runs every test/**/*.test.ts file with node's test runner (Node 20's --test takes no globs).
// Extra arguments are passed on (e.g. a file list to run a subset).
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return find(p);
    return name.endsWith('.test.ts') ? [relative(root, p)] : [];
  });
}
const args = process.argv.slice(2);
const files = args.length > 0 ? args : find(join(root, 'test')).sort();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
