/**
 * Every command documents itself (`--help` explains each option), bad configs name the bad key,
 * and the real executable runs: help, a data command and a user error with exit code 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/schema.js';

const root = resolve(new URL('../..', import.meta.url).pathname);

function leafCommands(cmd: Command, prefix: string[] = []): { path: string[]; cmd: Command }[] {
  const out: { path: string[]; cmd: Command }[] = [];
  for (const c of cmd.commands) {
    const path = [...prefix, c.name()];
    if (c.commands.length > 0) out.push(...leafCommands(c, path));
    else out.push({ path, cmd: c });
  }
  return out;
}

test('every command has a description and every option explains itself in --help', () => {
  const program = buildProgram();
  const leaves = leafCommands(program);
  const names = leaves.map((l) => l.path.join(' ')).sort();
  for (const required of ['data inspect', 'data init', 'bank build', 'bank inspect', 'diffusion train', 'diffusion sample', 'transfer', 'evaluate', 'report', 'demo', 'forecast', 'serve', 'export']) {
    assert.ok(names.includes(required), `missing command "${required}" (have: ${names.join(', ')})`);
  }
  for (const { path, cmd } of leaves) {
    const help = cmd.helpInformation();
    assert.ok(cmd.description().length > 20, `${path.join(' ')}: description too short`);
    assert.match(help, new RegExp(`Usage: gpd ${path.join(' ')}`), path.join(' '));
    for (const opt of cmd.options) {
      assert.ok(opt.description && opt.description.length >= 8, `${path.join(' ')} ${opt.flags}: no explanation`);
      assert.ok(help.includes(opt.flags), `${path.join(' ')}: --help does not show ${opt.flags}`);
    }
  }
});

test('invalid configs name the bad key; overrides parse JSON values', () => {
  assert.throws(() => loadConfig(undefined, ['bank.epoch=3']), (e: Error) => e instanceof ConfigError && /bank\.epoch: unknown key/.test(e.message));
  assert.throws(() => loadConfig(undefined, ['diffusion.conditioning=cross']), /diffusion\.conditioning must be one of "pre-bias", .*got "cross"/);
  assert.throws(() => loadConfig(undefined, ['seed="x"']), /seed must be a number, got "x"/);
  assert.throws(() => loadConfig(undefined, ['noequals']), /--set expects key=value/);
  const dir = mkdtempSync(join(tmpdir(), 'gpd-cfg-'));
  try {
    const yamlFile = join(dir, 'c.yaml');
    writeFileSync(yamlFile, 'bank:\n  epochs: 7\nfinetune:\n  lr: -1\n');
    assert.throws(() => loadConfig(yamlFile), (e: Error) => e.message.includes(yamlFile) && /finetune\.lr must be a positive number/.test(e.message));
    writeFileSync(yamlFile, 'bank:\n  epochs: 7\n');
    const cfg = loadConfig(yamlFile, ['data.sources=["a","b"]', 'sampling.steps=20']);
    assert.equal(cfg.bank.epochs, 7);
    assert.deepEqual(cfg.data.sources, ['a', 'b']);
    assert.equal(cfg.sampling.steps, 20);
    // Sections the file does not name keep every default.
    assert.deepEqual(cfg.diffusion, loadConfig(undefined).diffusion);
    assert.equal(cfg.diffusion.objective, 'x0');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const schema = configJsonSchema() as { properties: Record<string, unknown> };
  assert.deepEqual(Object.keys(schema.properties).sort(), ['bank', 'data', 'diffusion', 'finetune', 'prompts', 'sampling', 'seed']);
});

test('the gpd executable: help, data inspect on a synthetic city, and a user error exits 2', () => {
  const gpd = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/gpd.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, GPD_BACKEND: 'cpu' } });
  const help = gpd('--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /demo/);
  const inspect = gpd('data', 'inspect', 'synthetic:synth-b');
  assert.equal(inspect.status, 0, inspect.stderr);
  assert.match(inspect.stdout, /nodes:\s+24/);
  assert.match(inspect.stdout, /interval:\s+30 min/);
  const bad = gpd('data', 'inspect', 'no/such/city.json');
  assert.equal(bad.status, 2, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /no\/such\/city\.json/);
  const badSet = gpd('config', 'show', '--set', 'bank.epoch=2');
  assert.equal(badSet.status, 2);
  assert.match(badSet.stderr, /bank\.epoch: unknown key/);
});
