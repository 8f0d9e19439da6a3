/**
 * A run folder refuses a configuration other than the one it was made with (transfer/run-folder.ts),
 * except for keys added since whose value does what the folder did without them (ADDED_KEYS): an
 * upgrade that leaves a run's recipe unchanged must not refuse to resume it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ADDED_KEYS, RunFolder } from '../../src/transfer/run-folder.js';

test('a folder made before a key existed resumes at its old behaviour and is refused at another value', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-run-folder-'));
  try {
    const run = new RunFolder(dir);
    const cfg = loadConfig(undefined, []);
    // As an older gpd wrote it: the same configuration without the keys added since.
    const older = structuredClone(cfg) as unknown as { finetune: Record<string, unknown> };
    for (const key of Object.keys(ADDED_KEYS)) {
      assert.ok(key.startsWith('finetune.'), `this test removes finetune keys only, not ${key}`);
      delete older.finetune[key.slice('finetune.'.length)];
    }
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ config: older, seed: cfg.seed }));
    writeFileSync(join(dir, 'target.json'), '{}');
    assert.doesNotThrow(() => run.checkConfig(cfg));
    assert.throws(() => run.checkConfig(loadConfig(undefined, ['finetune.baselineGuard=true'])), /finetune\.baselineGuard: absent -> true/);
    assert.throws(() => run.checkConfig(loadConfig(undefined, ['finetune.calibration=per-horizon'])), /finetune\.calibration: absent -> "per-horizon"/);
    assert.throws(() => run.checkConfig(loadConfig(undefined, ['finetune.epochs=3'])), /finetune\.epochs: 20 -> 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
