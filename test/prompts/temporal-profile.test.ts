import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dailyBins, fillCircular, fourierCoefficients, regionProfiles, relativeLevel, stepBins } from '../../src/prompts/temporal-profile.js';
import { tinyCity } from './fixtures.js';

// A reading stands for [t, t + interval): the fixture evaluates the daily wave at the interval midpoint.
function waveCity(intervalMinutes: number, days = 2) {
  return tinyCity({
    N: 2,
    days,
    intervalMinutes,
    value: (_t, n, _f, hour) => {
      const mid = hour + intervalMinutes / 120;
      return (n + 1) * (10 + 3 * Math.cos((2 * Math.PI * mid) / 24));
    },
  });
}

const OPTS = { bins: 24, harmonics: 4, feature: 0 };

test('profile of a daily cosine is the z-scored cosine at bin centres, the same for 5/15/60-minute cities', () => {
  const hourly = regionProfiles(waveCity(60), { start: 0, end: 48 }, OPTS);
  for (let b = 0; b < 24; b++) {
    const want = Math.SQRT2 * Math.cos((2 * Math.PI * (b + 0.5)) / 24); // std of a sampled cosine is 1/sqrt(2)
    assert.ok(Math.abs(hourly.profile[b]! - want) < 1e-5, `bin ${b}: ${hourly.profile[b]} vs ${want}`);
    // z-scoring removes the region's level and scale: node 1 (twice node 0) has the same profile
    assert.ok(Math.abs(hourly.profile[24 + b]! - hourly.profile[b]!) < 1e-5);
  }
  for (const interval of [5, 15, 30]) {
    const c = waveCity(interval);
    const p = regionProfiles(c, { start: 0, end: c.T }, OPTS);
    for (let b = 0; b < 24; b++) {
      // finer cities average points across the bin: the cosine shrinks by at most sinc(pi/24) = 0.99715, i.e. <= 0.004
      assert.ok(Math.abs(p.profile[b]! - hourly.profile[b]!) < 5e-3, `${interval} min, bin ${b}: ${p.profile[b]} vs ${hourly.profile[b]}`);
    }
  }
});

test('Fourier coefficients of the cosine profile: a1 = sqrt(2), everything else 0', () => {
  const p = regionProfiles(waveCity(60), { start: 0, end: 48 }, OPTS);
  const c = fourierCoefficients(p.profile, 0, 24, 4);
  assert.equal(c.length, 8);
  assert.ok(Math.abs(c[0]! - Math.SQRT2) < 1e-5, `a1 = ${c[0]}`);
  for (let k = 1; k < 8; k++) assert.ok(Math.abs(c[k]!) < 1e-5, `coef ${k} = ${c[k]}`);
  // a 6-hour shift rotates the first harmonic into the sine coefficient
  const shifted = Float32Array.from({ length: 24 }, (_, b) => p.profile[(b + 18) % 24]!);
  const s = fourierCoefficients(shifted, 0, 24, 1);
  assert.ok(Math.abs(s[0]!) < 1e-5 && Math.abs(Math.abs(s[1]!) - Math.SQRT2) < 1e-5, `shifted: ${s[0]}, ${s[1]}`);
  assert.throws(() => fourierCoefficients(p.profile, 0, 24, 13), /harmonics/);
});

test('masked readings are excluded: garbage under the mask changes nothing; a fully masked bin is interpolated', () => {
  const hidden = (t: number, n: number) => !(n === 0 && t % 24 === 3); // node 0 never observed at 03:00-04:00
  const make = () =>
    tinyCity({ N: 2, days: 3, intervalMinutes: 60, value: (_t, n, _f, h) => 5 + n + Math.sin((2 * Math.PI * (h + 0.5)) / 24), mask: hidden });
  const clean = make();
  const dirty = make();
  for (let t = 0; t < dirty.T; t++) if (!hidden(t, 0)) dirty.series[t * 2] = 1e6;
  const range = { start: 0, end: clean.T };
  const a = regionProfiles(clean, range, OPTS);
  const b = regionProfiles(dirty, range, OPTS);
  assert.deepEqual(Array.from(a.profile), Array.from(b.profile));
  assert.equal(a.count[0], 3 * 23);
  assert.ok(Math.abs(a.profile[3]! - (a.profile[2]! + a.profile[4]!) / 2) < 1e-6);
  assert.ok(Math.max(...Array.from(a.profile, Math.abs)) < 2);
});

test('a region with no observed reading is absent (flag 0, zeros), and levels are relative to the city', () => {
  const c = tinyCity({
    N: 3,
    days: 2,
    intervalMinutes: 60,
    value: (_t, n, _f, h) => (n === 1 ? 2 : 1) * (10 + Math.cos((2 * Math.PI * h) / 24)),
    mask: (_t, n) => n !== 2,
  });
  const p = regionProfiles(c, { start: 0, end: c.T }, OPTS);
  assert.deepEqual(Array.from(p.present), [1, 1, 0]);
  assert.ok(p.profile.subarray(48, 72).every((v) => v === 0));
  const l0 = relativeLevel(p, 0);
  const l1 = relativeLevel(p, 1);
  assert.ok(l1[0]! > 0 && l0[0]! < 0, `relative means ${l0[0]}, ${l1[0]}`);
  assert.ok(Math.abs(l1[1]! - l0[1]! - Math.log(2)) < 0.01, `log std ratio ${l1[1]! - l0[1]!}`);
});

test('fillCircular interpolates across the day boundary and fills a single reading everywhere', () => {
  const p = Float64Array.from([NaN, 1, NaN, NaN, 4, NaN]);
  fillCircular(p, 0, 6);
  // 4 (bin 4) -> 1 (bin 1) across the wrap: bins 5, 0 at thirds
  assert.deepEqual(Array.from(p, (v) => +v.toFixed(6)), [2, 1, 2, 3, 4, 3]);
  const q = Float64Array.from([NaN, NaN, 7, NaN]);
  fillCircular(q, 0, 4);
  assert.deepEqual(Array.from(q), [7, 7, 7, 7]);
});

test('day windows start at range.start, bin by clock time, and drop a trailing partial day', () => {
  const c = waveCity(60, 4);
  const range = { start: 12, end: 12 + 60 }; // 2.5 days from noon
  const p = regionProfiles(c, range, OPTS);
  const d = dailyBins(c, range, p, OPTS);
  assert.equal(d.days, 2);
  assert.ok(d.avail.every((v) => v === 1));
  for (let day = 0; day < 2; day++) {
    for (let b = 0; b < 24; b++) {
      const want = Math.SQRT2 * Math.cos((2 * Math.PI * (b + 0.5)) / 24);
      assert.ok(Math.abs(d.values[day * 24 + b]! - want) < 1e-4, `day ${day} bin ${b}`);
    }
  }
  const bins = stepBins(c, { start: 0, end: 24 }, 24);
  assert.deepEqual(Array.from(bins), Array.from({ length: 24 }, (_, i) => i));
});
