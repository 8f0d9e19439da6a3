/**
 * Issue list 2 (a failed run blocks its own folder): inputs are loaded and checked before anything is
 * written, so the corrected command runs in the same folder; a folder holding only what a failed run
 * wrote takes a new configuration; a folder holding results names the keys that differ.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TINY_BANK, TINY_RUN, cli, removeDir, tempDir, tinySynthetic, writeCity } from './harness.js';

let dir: string;
before(() => {
  dir = tempDir('failed');
});
after(() => removeDir(dir));

test('transfer: a data error in the target leaves the run folder untouched; the corrected command runs there', async () => {
  const run = join(dir, 'run');
  const cityDir = join(dir, 'target');
  const target = tinySynthetic('synth-d');
  const manifest = writeCity(cityDir, target, { row: 3, node: 2, text: '12x' });
  const args = ['transfer', '--no-report', '-o', run, ...TINY_RUN, '--set', `data.target=${manifest}`];
  const bad = await cli(...args);
  assert.equal(bad.status, 2, bad.stderr);
  // Data row 3 is line 5 (after the header); node 2 is column 4 (after the time column).
  assert.match(bad.stderr, /gpd: data error: .*series\.csv, line 5, column 4 \(node "synth-d-r2"\): "12x" is not a number/);
  assert.equal(existsSync(run), false, 'nothing was written');
  writeCity(cityDir, target);
  const fixed = await cli(...args);
  assert.equal(fixed.status, 0, fixed.stderr);
  assert.ok(existsSync(join(run, 'results.json')));

  // Now the folder holds a finished run: another configuration is refused, naming each key that differs.
  const other = await cli(...args, '--set', 'seed=2', '--set', 'finetune.epochs=2');
  assert.equal(other.status, 2, other.stderr);
  assert.match(other.stderr, /was made with a different configuration \(seed: 1 -> 2; finetune\.epochs: 1 -> 2\) and holds its bank, prompts\/spec\.json, generator, generated\.safetensors, target\.json, eval, results\.json; use a new --out folder, or the same settings to resume/);
  const again = await cli(...args);
  assert.equal(again.status, 0, again.stderr);
});

test('transfer: a folder holding only the config.json of a failed run takes the corrected configuration', async () => {
  // What an older gpd left after a data error: config.json (with the bad target) and nothing else.
  const run = join(dir, 'run-config-only');
  mkdirSync(run, { recursive: true });
  writeFileSync(join(run, 'config.json'), JSON.stringify({ config: { seed: 1, data: { target: 'bad/city.json' } }, seed: 1, command: 'gpd transfer', versions: {}, backend: 'wasm' }));
  const r = await cli('transfer', '--no-report', '-o', run, ...TINY_RUN);
  assert.equal(r.status, 0, r.stderr);
});

test('bank build --feature 3: refused by name before the folder exists; --feature 0 builds there', async () => {
  const bank = join(dir, 'bank');
  const args = ['bank', 'build', '--city', 'synthetic:synth-a', '--bank', bank, ...TINY_BANK];
  const bad = await cli(...args, '--feature', '3');
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /gpd: data error: city synth-a: feature 3 does not exist \(the city has 1 feature\(s\)\)/);
  assert.equal(existsSync(bank), false, 'no empty index.json left behind');
  const fixed = await cli(...args, '--feature', '0');
  assert.equal(fixed.status, 0, fixed.stderr);
  assert.deepEqual(readdirSync(join(bank, 'regions', 'synth-a')).sort(), ['r0.safetensors', 'r1.safetensors']);
});

test('bank build: a folder holding only the index.json of a failed build takes other settings', async () => {
  // What an older gpd left after `--feature 3`: an index with no vector.
  const bank = join(dir, 'bank-index-only');
  mkdirSync(bank, { recursive: true });
  const first = await cli('bank', 'build', '--city', 'synthetic:synth-a', '--bank', bank, ...TINY_BANK, '--set', 'bank.epochs=0', '--set', 'bank.maxRegions=1');
  assert.equal(first.status, 0, first.stderr);
  // Remove its vectors: the index alone records settings but holds nothing to keep.
  removeDir(join(bank, 'regions'));
  removeDir(join(bank, 'shared.safetensors'));
  const r = await cli('bank', 'build', '--city', 'synthetic:synth-a', '--bank', bank, ...TINY_BANK);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /2 regions trained, 0 already done/);
});
