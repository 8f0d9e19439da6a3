/**
 * The house rules of src/ (docs/architecture.md), checked on every test run: no import cycles and no
 * import from a lower layer up to a higher one (dependency-cruiser with .dependency-cruiser.cjs),
 * every folder placed in a layer, and no file over 400 lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cruise } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const rules = require(join(root, '.dependency-cruiser.cjs')) as { forbidden: unknown[]; options: Record<string, unknown> };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('src/ has no import cycle and no import up a layer', async () => {
  const cwd = process.cwd();
  process.chdir(root);
  try {
    const tsConfig = extractTSConfig(join(root, 'tsconfig.json'));
    const r = await cruise(['src'], { ruleSet: { forbidden: rules.forbidden } as never, ...rules.options, validate: true } as never, undefined, { tsConfig } as never);
    const output = r.output as { summary: { violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[]; totalCruised: number } };
    const lines = output.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`);
    assert.ok(output.summary.totalCruised > 100, `only ${output.summary.totalCruised} modules cruised: is the resolver finding the .ts files?`);
    assert.deepEqual(lines, []);
  } finally {
    process.chdir(cwd);
  }
});

test('every folder of src/ has a layer, and no file is over 400 lines', () => {
  const config = readFileSync(join(root, '.dependency-cruiser.cjs'), 'utf8');
  const layered = new Set([...config.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]!));
  for (const name of readdirSync(join(root, 'src'))) {
    if (statSync(join(root, 'src', name)).isDirectory()) assert.ok(layered.has(name), `src/${name} is in no layer of .dependency-cruiser.cjs`);
  }
  const long = files(join(root, 'src'))
    .map((f) => [f.slice(root.length), readFileSync(f, 'utf8').trimEnd().split('\n').length] as const)
    .filter(([, n]) => n > 400);
  assert.deepEqual(long, []);
});
