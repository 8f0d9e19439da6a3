/**
 * Defaults exist once: the library, the CLI and the config file take every default from the zod
 * config (its sections live with the layers that use them). A default written again somewhere else
 * (as the bank's lr 1e-4 / decay 1e-2 and the library's baseline `none` once were) fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GpdConfig } from '../../src/config/schema.js';
import { resolveBankOptions } from '../../src/bank/config.js';
import { FinetuneConfig, trainConfigOf } from '../../src/train/config.js';
import { buildProgram } from '../../src/cli/main.js';

const defaults = GpdConfig.parse({});

test("buildBank's options left out take the config's bank and data defaults", () => {
  const { bank, feature, baseline } = resolveBankOptions({});
  const { dir: _d, seed: _s, ...configBank } = defaults.bank;
  assert.deepEqual(bank, configBank);
  assert.equal(feature, defaults.data.feature);
  assert.equal(baseline, defaults.data.baseline);
  assert.equal(baseline, 'seasonal-ar');
  assert.equal(bank.lr, 3e-3);
  // The fit loop the bank runs is the bank section's, field for field.
  const loop = trainConfigOf(bank);
  for (const k of Object.keys(loop) as (keyof typeof loop)[]) assert.equal(loop[k], defaults.bank[k], k);
});

test("fine-tuning's options left out take the config's finetune defaults", () => {
  assert.deepEqual(FinetuneConfig.parse({}), defaults.finetune);
});

test("gpd bank build --help shows the config's defaults, and takes -c and --set", () => {
  const bank = buildProgram().commands.find((c) => c.name() === 'bank')!;
  const help = bank.commands.find((c) => c.name() === 'build')!.helpInformation();
  assert.match(help, /-c, --config <file>/);
  assert.match(help, /--set <key=value>/);
  for (const [flag, key] of [['--lr', 'lr'], ['--epochs', 'epochs'], ['--workers', 'workers'], ['--init', 'init'], ['--patience', 'patience']] as const) {
    const line = help.split('\n').findIndex((l) => l.trimStart().startsWith(flag + ' '));
    assert.ok(line >= 0, `${flag} missing from the help`);
    // commander wraps long descriptions: read the option's text up to the next option.
    const text = help.split('\n').slice(line, line + 4).join(' ').replace(/\s+/g, ' ');
    assert.ok(text.includes(`(bank.${key}; default ${JSON.stringify(defaults.bank[key])})`), `${flag}: ${text}`);
  }
});
