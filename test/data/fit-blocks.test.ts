import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { stepsPerDay } from '../../src/data/city.js';
import { sourceSplit } from '../../src/data/splits.js';
import { fitValueEncoding } from '../../src/data/baseline.js';
import { encodingBlocks } from '../../src/data/fit-blocks.js';
import { IN_STEPS, OUT_STEPS } from '../../src/data/task.js';
import { prepareCity, regionDatasets } from '../../src/train/dataset.js';

const [city] = generateSyntheticCities({ seed: 3, cities: 1, nodes: 6, days: 8 });
const spd = stepsPerDay(city!);
const split = sourceSplit(city!);

test('encoding blocks: K fit days then the next day, sliding by a day; training targets stay before the split boundary', () => {
  const blocks = encodingBlocks(city!, split, 0, 'seasonal-ar', 3);
  // 8 days: blocks d = 0..4 forecast days 3..7; the boundary (80%) falls inside day 6.
  assert.equal(blocks.length, 5);
  blocks.forEach((b, d) => {
    assert.deepEqual(b.fit, { start: d * spd, end: (d + 3) * spd });
    const day = { start: (d + 3) * spd, end: (d + 4) * spd };
    if (b.train) {
      assert.equal(b.train.start, day.start);
      assert.ok(b.train.end <= split.train.end && b.train.end <= day.end);
    }
    if (b.val) {
      assert.ok(b.val.start >= split.train.end && b.val.end === day.end);
    }
    // Each block's encoding is the one a target with these 3 days would fit.
    const own = fitValueEncoding(city!, b.fit, 0, 'seasonal-ar');
    assert.equal(b.norm.mean, own.mean);
    assert.deepEqual(b.norm.baseline!.persistence, own.baseline!.persistence);
  });
  assert.equal(blocks.filter((b) => b.train).length, 4);
  assert.equal(blocks.filter((b) => b.val).length, 2, 'the day holding the boundary validates its part after it');
  // Different fit days give different profiles.
  assert.notDeepEqual(Array.from(blocks[0]!.norm.baseline!.profile.table.slice(0, 12)), Array.from(blocks[4]!.norm.baseline!.profile.table.slice(0, 12)));
});

test('region datasets under blocks: one per block, windows read back into the fit days but never before them', () => {
  const prep = prepareCity(city!, 0, 'seasonal-ar', 3);
  const ds = regionDatasets(city!, prep, 2);
  assert.equal(ds.length, prep.blocks!.length);
  ds.forEach((d, i) => {
    const b = prep.blocks![i]!;
    assert.equal(d.norm, b.norm);
    for (const [w, r] of [[d.train, b.train], [d.val, b.val]] as const) {
      if (!r) {
        assert.equal(w.count, 0);
        continue;
      }
      // Every target step inside the range, the first window reading the 12 steps before it.
      assert.equal(w.starts[0], r.start - IN_STEPS);
      assert.equal(w.starts[w.count - 1]! + IN_STEPS + OUT_STEPS, r.end);
      assert.ok(w.starts[0]! >= b.fit.start);
    }
  });
  // Without blocks: the one dataset over the whole split, as before.
  const plain = regionDatasets(city!, prepareCity(city!, 0, 'seasonal-ar'), 2);
  assert.equal(plain.length, 1);
});

test('encoding blocks: too few days is a clear error naming the city', () => {
  const [short] = generateSyntheticCities({ seed: 3, cities: 1, nodes: 4, days: 3 });
  assert.throws(() => encodingBlocks(short!, sourceSplit(short!), 0, 'seasonal-ar', 3), new RegExp(`city ${short!.id}: fitting the encoding on 3-day blocks`));
  assert.throws(() => encodingBlocks(short!, sourceSplit(short!), 0, 'seasonal-ar', 0), /positive integer/);
});
