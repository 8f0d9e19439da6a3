import { test } from 'node:test';
import assert from 'node:assert/strict';
import { regionWindows, timeOfDay, windowStarts } from '../../src/data/windows.js';
import { fitNormalizer, normalize, denormalize } from '../../src/data/normalize.js';
import { regionSubgraph } from '../../src/data/subgraph.js';
import { sourceSplit, targetSplit } from '../../src/data/splits.js';
import { DataError, type City } from '../../src/data/city.js';
import { tinyCity } from './tiny-city.js';
import { IN_STEPS, OUT_STEPS, IN_FEATURES } from '../../src/data/task.js';

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

test('window starts: all 18 steps inside the range; historyStart lets only inputs reach back', () => {
  const city = tinyCity({ T: 100, intervalMinutes: 120 });
  const src = sourceSplit(city);
  const tgt = targetSplit(city, 3);
  assert.deepEqual(Array.from(windowStarts(src.train)), range(0, 63));
  assert.deepEqual(Array.from(windowStarts(src.val)), [80, 81, 82]);
  assert.deepEqual(Array.from(windowStarts(tgt.fewShotTrain)), range(34, 45)); // 44 + 17 = 61 = last train step
  assert.deepEqual(Array.from(windowStarts(tgt.fewShotVal)), []); // 8 steps hold no full window
  // Targets 62..69 scored from inputs that may start at the few-shot start: starts 50..52.
  assert.deepEqual(Array.from(windowStarts(tgt.fewShotVal, { historyStart: tgt.fewShot.start })), [50, 51, 52]);
  // A history start between clamps the first start.
  assert.deepEqual(Array.from(windowStarts(tgt.fewShotVal, { historyStart: 51 })), [51, 52]);
  assert.deepEqual(Array.from(windowStarts(tgt.test)), range(70, 83));
  assert.deepEqual(Array.from(windowStarts(src.train, { stride: 10 })), [0, 10, 20, 30, 40, 50, 60]);
  assert.throws(() => windowStarts(src.val, { historyStart: 81 }), DataError);
  assert.throws(() => windowStarts(src.val, { stride: 0 }), DataError);
});

test('window contents: layout [count, n, 12, 2], normalised values, time of day, centre targets', () => {
  const city = tinyCity({ T: 100, N: 3, F: 2, intervalMinutes: 120 });
  const norm = fitNormalizer(city, sourceSplit(city).train, 1);
  const sub = regionSubgraph(city, 1); // nodes [1, 0, 2]
  assert.deepEqual(sub.nodes, [1, 0, 2]);
  const w = regionWindows(city, sub, { start: 10, end: 40 }, norm, { stride: 2 });
  assert.equal(w.count, 7); // starts 10, 12, ..., 22
  assert.deepEqual(Array.from(w.starts), [10, 12, 14, 16, 18, 20, 22]);
  assert.equal(w.n, 3);
  assert.equal(w.x.length, 7 * 3 * IN_STEPS * IN_FEATURES);
  assert.equal(w.y.length, 7 * OUT_STEPS);
  const value = (t: number, node: number) => 100 * 1 + 10 * node + t / 10;
  for (let k = 0; k < w.count; k++) {
    const t0 = w.starts[k]!;
    for (let a = 0; a < 3; a++) {
      for (let s = 0; s < IN_STEPS; s++) {
        const o = ((k * 3 + a) * IN_STEPS + s) * IN_FEATURES;
        assert.ok(Math.abs(w.x[o]! - normalize(norm, value(t0 + s, sub.nodes[a]!))) < 1e-5);
        assert.ok(Math.abs(w.x[o + 1]! - ((t0 + s) % 12) / 12) < 1e-7);
      }
    }
    for (let h = 0; h < OUT_STEPS; h++) {
      const raw = value(t0 + IN_STEPS + h, 1);
      assert.ok(Math.abs(w.yRaw[k * OUT_STEPS + h]! - raw) < 1e-4);
      assert.ok(Math.abs(denormalize(norm, w.y[k * OUT_STEPS + h]!) - raw) < 1e-3);
      assert.equal(w.yMask[k * OUT_STEPS + h], 1);
    }
  }
});

test('missing readings: inputs become 0 (the mean), targets are masked but keep their raw value', () => {
  const city = tinyCity({ T: 100, N: 3, intervalMinutes: 120, mask: true });
  // Node 2 missing at step 15 (an input of the window at 10), centre node 1 missing at step 25 (a target).
  city.mask![15 * 3 + 2] = 0;
  city.series[15 * 3 + 2] = 0;
  city.mask![25 * 3 + 1] = 0;
  city.series[25 * 3 + 1] = 0;
  const norm = fitNormalizer(city, { start: 0, end: 80 });
  const w = regionWindows(city, regionSubgraph(city, 1), { start: 10, end: 40 }, norm);
  const k = 0; // start 10
  assert.equal(w.x[((k * 3 + 2) * IN_STEPS + 5) * IN_FEATURES], 0);
  assert.notEqual(w.x[((k * 3 + 2) * IN_STEPS + 4) * IN_FEATURES], 0);
  // Window starting at 10 has targets 22..27: step 25 is horizon index 3.
  assert.equal(w.yMask[k * OUT_STEPS + 3], 0);
  assert.equal(w.y[k * OUT_STEPS + 3], 0);
  assert.equal(w.yRaw[k * OUT_STEPS + 3], 0);
  assert.equal(w.yMask[k * OUT_STEPS + 2], 1);
  // The normaliser skips the masked zeros: equal to the mean of the observed values only.
  let sum = 0;
  let cnt = 0;
  for (let t = 0; t < 80; t++) for (let n = 0; n < 3; n++) if (city.mask![t * 3 + n]) { sum += city.series[t * 3 + n]!; cnt++; }
  assert.ok(Math.abs(norm.mean - sum / cnt) < 1e-9);
  assert.equal(cnt, 238);
});

test('no test-period value influences the normaliser or the few-shot windows', () => {
  const base = tinyCity({ T: 100, N: 3, intervalMinutes: 120 });
  const split = targetSplit(base, 3);
  const snapshot = (city: City) => {
    const norm = fitNormalizer(city, split.fewShot);
    const sub = regionSubgraph(city, 1);
    const train = regionWindows(city, sub, split.fewShotTrain, norm);
    const val = regionWindows(city, sub, split.fewShotVal, norm, { historyStart: split.fewShot.start });
    return { norm, train, val };
  };
  const ref = snapshot(base);
  assert.equal(ref.train.count, 11);
  assert.equal(ref.val.count, 3);
  for (let t = split.test.start; t < split.test.end; t++) {
    for (let n = 0; n < 3; n++) {
      const city = { ...base, series: base.series.slice() };
      city.series[t * 3 + n] = 1e6;
      assert.deepEqual(snapshot(city), ref, `changing step ${t} node ${n} leaked into few-shot data`);
    }
  }
  // Control: the last few-shot step does change them (so the comparison above can fail).
  const city = { ...base, series: base.series.slice() };
  city.series[(split.test.start - 1) * 3 + 1] = 1e6;
  const changed = snapshot(city);
  assert.notDeepEqual(changed.norm, ref.norm);
  assert.notDeepEqual(changed.val.yRaw, ref.val.yRaw);
});

test('time of day comes from timestamps (UTC) when present, else from the step index', () => {
  const noTs = tinyCity({ T: 100, intervalMinutes: 30 });
  assert.equal(timeOfDay(noTs, 0), 0);
  assert.equal(timeOfDay(noTs, 47), 47 / 48);
  assert.equal(timeOfDay(noTs, 49), 1 / 48);
  // Timestamps starting at 06:00 UTC: step 0 is a quarter of the day.
  const ts = new Float64Array(100);
  for (let t = 0; t < 100; t++) ts[t] = Date.UTC(2020, 5, 1, 6) + t * 30 * 60_000;
  const withTs = tinyCity({ T: 100, intervalMinutes: 30, timestamps: ts });
  assert.equal(timeOfDay(withTs, 0), 0.25);
  assert.equal(timeOfDay(withTs, 36), 0); // 06:00 + 18 h = midnight
  const w = regionWindows(withTs, regionSubgraph(withTs, 0), { start: 30, end: 60 }, fitNormalizer(withTs, { start: 0, end: 60 }));
  assert.equal(w.x[1], timeOfDay(withTs, 30));
  assert.equal(w.x[(6) * 2 + 1], 0); // step 36 of window 0 node 0
});

test('bad inputs are DataErrors naming the city', () => {
  const city = tinyCity({ T: 100 });
  const norm = fitNormalizer(city, { start: 0, end: 80 });
  const sub = regionSubgraph(city, 0);
  assert.throws(() => regionWindows(city, sub, { start: 90, end: 120 }, norm), /city tiny: step range \[90, 120\)/);
  assert.throws(() => regionWindows(city, sub, { start: 0, end: 50 }, { ...norm, feature: 1 }), /feature 1/);
  assert.throws(() => fitNormalizer(city, { start: 0, end: 80 }, 2), /feature 2 does not exist/);
  const empty = tinyCity({ T: 100, mask: true });
  empty.mask!.fill(0);
  assert.throws(() => fitNormalizer(empty, { start: 0, end: 10 }), /no observed values/);
  // Constant data: the std floor keeps normalisation finite.
  const flat = tinyCity({ T: 100, N: 1 });
  flat.series.fill(5);
  const n = fitNormalizer(flat, { start: 0, end: 50 });
  assert.equal(n.mean, 5);
  assert.equal(n.std, 1e-6);
});
