import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/runtime/backend.js';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { Rng } from '../../src/util/prng.js';
import { createForecaster } from '../../src/models/registry.js';
import { prepareTarget, targetRegion } from '../../src/train/target.js';
import { MetricsAccumulator } from '../../src/metrics/metrics.js';
import { OUT_STEPS } from '../../src/data/task.js';
import { ZERO_SHOT_SCALE_GRID, chooseZeroShotScale } from '../../src/transfer/zero-shot-scale.js';

await initBackend();

const city = generateSyntheticCities({ seed: 9, cities: 1, nodes: 6, days: 14 })[0]!;
const prep = prepareTarget(city, 3, 0, 'seasonal-ar', 'tail');
const model = createForecaster('stgcn');
const regions = [0, 2, 4];
// A correction 40 times too large: what a transferred model looks like on a new city.
const oversized = model.layout.init(new Rng(6).fork('oversized'));
model.layout.view(oversized, model.outputLayer).forEach((v, i, a) => (a[i] = v * 40));

test('the zero-shot scale of an oversized random correction shrinks to the baseline; its scale-0 MAE is the baseline forecast', () => {
  const choice = chooseZeroShotScale(model, prep, regions, () => oversized);
  assert.deepEqual(choice.grid, [...ZERO_SHOT_SCALE_GRID]);
  assert.equal(choice.mae[choice.grid.indexOf(choice.scale)], Math.min(...choice.mae));
  // Measured: the MAE rises with the scale from 1.529 at 0 to 2.538 at 1 (40 times a random correction only adds noise).
  assert.equal(choice.scale, 0);
  assert.ok(choice.mae.every((m, j) => j === 0 || m > choice.mae[j - 1]!), `not rising: ${choice.mae.join(' ')}`);
  assert.ok(choice.mae[8]! > 1.5 * choice.mae[0]!, `scale 1 costs only ${choice.mae[8]! / choice.mae[0]!}x`);
  // Each region's own few-shot MAE, one row per region: the oversized correction costs every one of them.
  assert.equal(choice.byRegion.length, regions.length);
  for (const row of choice.byRegion) {
    assert.equal(row.length, choice.grid.length);
    assert.ok(row[8]! > row[0]!, `a region gained from the oversized correction: ${row.join(' ')}`);
  }
  // Another grid: the lowest of its own factors, the same MAE at the factors both grids hold.
  const coarse = chooseZeroShotScale(model, prep, regions, () => oversized, [1, 0.5]);
  assert.equal(coarse.scale, 0.5);
  assert.ok(Math.abs(coarse.mae[1]! - choice.mae[6]!) < 1e-9);
  // At 0 the network adds nothing: the pooled MAE of the baseline forecast itself over the same windows.
  const acc = new MetricsAccumulator(OUT_STEPS);
  for (const r of regions) for (const w of [targetRegion(prep, r).dataset.train, targetRegion(prep, r).dataset.val]) acc.add(w.yOffset, w.yRaw, w.yMask);
  assert.ok(Math.abs(choice.mae[0]! - acc.result().maeMean) < 1e-4 * acc.result().maeMean);
});
