import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceSplit, targetSplit, windowCount } from '../../src/data/splits.js';
import { DataError } from '../../src/data/city.js';
import { windowStarts } from '../../src/data/windows.js';
import { tinyCity } from './tiny-city.js';

test('source split: first floor(0.8T) steps train, the rest validate', () => {
  const s = sourceSplit(tinyCity({ T: 100 }));
  assert.deepEqual(s, { train: { start: 0, end: 80 }, val: { start: 80, end: 100 } });
  assert.equal(windowCount(s.train), 63); // starts 0..62
  assert.equal(windowCount(s.val), 3); // starts 80..82
  // la-loop shape: 2016 steps -> 1612 / 404 (integer arithmetic, no float drift at 0.8*T).
  assert.deepEqual(sourceSplit(tinyCity({ T: 2016, N: 1, intervalMinutes: 5 })).train, { start: 0, end: 1612 });
  // Boundaries where 0.7*T / 0.8*T in floating point are just below an integer stay exact.
  for (let T = 90; T < 3000; T++) {
    const end = sourceSplit(tinyCity({ T, N: 1 })).train.end;
    assert.ok(end * 10 <= 8 * T && 8 * T < (end + 1) * 10, `T=${T}: train end ${end} is not floor(0.8T)`);
  }
});

test('source split too short for a validation window is a DataError naming the city', () => {
  assert.throws(() => sourceSplit(tinyCity({ T: 40 })), (e: unknown) => e instanceof DataError && /city tiny/.test(e.message) && /\[32, 40\)/.test(e.message));
});

test('target split: test = last 30%, few-shot = K whole days before it, its last 20% validates', () => {
  // 120-minute steps -> 12 steps/day; T=100 -> test starts at 70.
  const s = targetSplit(tinyCity({ T: 100, intervalMinutes: 120 }), 3);
  assert.deepEqual(s, {
    fewShot: { start: 34, end: 70 },
    fewShotTrain: { start: 34, end: 62 }, // 34 + floor(0.8*36) = 34 + 28
    fewShotVal: { start: 62, end: 70 },
    test: { start: 70, end: 100 },
    kDays: 3,
  });
  // la-loop shape (5 min, 2016 steps): test [1411, 2016), K=3 -> 864 steps [547, 1411), val = last 173 steps.
  const la = tinyCity({ T: 2016, N: 1, intervalMinutes: 5 });
  const l3 = targetSplit(la, 3);
  assert.deepEqual(l3.test, { start: 1411, end: 2016 });
  assert.deepEqual(l3.fewShot, { start: 547, end: 1411 });
  assert.deepEqual(l3.fewShotVal, { start: 1238, end: 1411 });
  assert.deepEqual(targetSplit(la, 1).fewShot, { start: 1123, end: 1411 });
});

test('target split: validation holds at least one window of targets (6 steps) when 20% of K days is less', () => {
  // Hourly, K = 1: 20% of 24 steps leaves 5, which would hold no target window, so the last 6 validate.
  const hourly = tinyCity({ T: 240, N: 1, intervalMinutes: 60 });
  const s1 = targetSplit(hourly, 1);
  assert.deepEqual(s1.fewShot, { start: 144, end: 168 });
  assert.deepEqual(s1.fewShotTrain, { start: 144, end: 162 });
  assert.deepEqual(s1.fewShotVal, { start: 162, end: 168 });
  assert.equal(windowCount(s1.fewShotTrain), 1);
  assert.equal(windowStarts(s1.fewShotVal, { historyStart: s1.fewShot.start }).length, 1);
  // K = 3 at 1 h keeps the plain 20% (72 - floor(57.6) = 15 steps).
  assert.deepEqual(targetSplit(hourly, 3).fewShotVal, { start: 153, end: 168 });
});

test('target split: too many days, too few steps, bad K are DataErrors that say what fits', () => {
  const city = tinyCity({ T: 100, intervalMinutes: 120 });
  assert.throws(() => targetSplit(city, 6), (e: unknown) => e instanceof DataError && /at most 5 day/.test(e.message));
  // K=1: 12 steps, the last 6 validate, so the training part (6 steps) cannot hold one 18-step window.
  assert.throws(() => targetSplit(city, 1), (e: unknown) => e instanceof DataError && /\[58, 64\)/.test(e.message) && /last 6 steps validate/.test(e.message));
  assert.throws(() => targetSplit(city, 0), DataError);
  assert.throws(() => targetSplit(city, 1.5), DataError);
  // la-loop has 7 days: 7 few-shot days cannot precede the test period.
  assert.throws(() => targetSplit(tinyCity({ T: 2016, N: 1, intervalMinutes: 5 }), 7), /at most 4 day/);
});
