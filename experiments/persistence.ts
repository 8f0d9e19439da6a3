/**
 * How well the seasonal-ar encoding's persistence lambda_h is estimated from a target's K days
 * (npm run experiments:persistence; seconds). Per shared city, lambda_1..6 fitted four ways, and the
 * test-period MAE of the profile + persistence forecast (all nodes, horizons 1-6, original units) with
 * each: in-sample (the encoding's own fit: deviations from the K-day profile, on the same K days);
 * cross-fitted (each few-shot day against the profile of the other K - 1 days); on the test period
 * itself (an oracle, for reference only); and the source encoding's (the city's source training part).
 *
 *   npm run experiments:persistence -- --k 3
 *
 * Why: the in-sample fit is biased low (a 3-day profile has absorbed part of each day's own shift), and
 * a transferred correction is sized against the source's lambda (docs/protocol-impl.md, "Sizing a
 * transferred correction").
 */
import { parseArgs } from 'node:util';
import { resolveCity } from '../src/data/resolve.js';
import { fitValueEncoding, halfWindowSlots } from '../src/data/baseline.js';
import { fitTimeProfile, timeSlot } from '../src/data/time-profile.js';
import { stepsPerDay } from '../src/data/city.js';
import { sourceSplit, targetSplit } from '../src/data/splits.js';

const { values } = parseArgs({ options: { k: { type: 'string', default: '3' } } });
const K = Number(values.k);
const H = 6;

/** Least-squares lambda_h of dev(t + h) on dev(t) over pairs where both exist, clamped to [0, 1]. */
function fitLambdas(dev: (t: number, n: number) => number, start: number, end: number, N: number): number[] {
  const out: number[] = [];
  for (let h = 1; h <= H; h++) {
    let xy = 0;
    let xx = 0;
    for (let t = start; t + h < end; t++) {
      for (let n = 0; n < N; n++) {
        const a = dev(t, n);
        const b = dev(t + h, n);
        if (Number.isNaN(a) || Number.isNaN(b)) continue;
        xy += a * b;
        xx += a * a;
      }
    }
    out.push(xx > 0 ? Math.min(1, Math.max(0, xy / xx)) : 0);
  }
  return out;
}

for (const id of ['la-loop', 'shenzhen-sztaxi40', 'nyc-bike-grid', 'montevideo-bus']) {
  const c = resolveCity(`cities/${id}.city.json`);
  const { N, F, series } = c;
  const observed = (t: number, n: number) => !c.mask || c.mask[(t * N + n) * F] !== 0;
  const split = targetSplit(c, K);
  const fs = split.fewShot;
  const norm = fitValueEncoding(c, fs, 0, 'seasonal-ar');
  const profile = norm.baseline!.profile;
  // Deviation from the K-day profile, centred by the encoding's mean (as the windows compute it).
  const dev = (t: number, n: number) => (observed(t, n) ? series[(t * N + n) * F]! - profile.table[timeSlot(c, t, profile.slotsPerDay) * N + n]! - norm.mean : NaN);

  // Cross-fitted: few-shot day d against a profile fitted with day d masked out.
  const spd = stepsPerDay(c);
  const cross = new Float64Array((fs.end - fs.start) * N).fill(NaN);
  for (let d = fs.start; d < fs.end; d += spd) {
    const dayEnd = Math.min(fs.end, d + spd);
    const mask = new Uint8Array(c.T * N * F);
    if (c.mask) mask.set(c.mask);
    else mask.fill(1);
    for (let t = d; t < dayEnd; t++) for (let n = 0; n < N; n++) mask[(t * N + n) * F] = 0;
    const other = fitTimeProfile({ ...c, mask }, fs, 0, halfWindowSlots(c));
    for (let t = d; t < dayEnd; t++) {
      const row = timeSlot(c, t, other.slotsPerDay) * N;
      for (let n = 0; n < N; n++) if (observed(t, n)) cross[(t - fs.start) * N + n] = series[(t * N + n) * F]! - other.table[row + n]! - norm.mean;
    }
  }

  const mae = (lambda: number[]) => {
    let sum = 0;
    let count = 0;
    for (let t = split.test.start; t + H < split.test.end; t++) {
      for (let n = 0; n < N; n++) {
        const a = dev(t, n);
        if (Number.isNaN(a)) continue;
        for (let h = 1; h <= H; h++) {
          const b = dev(t + h, n);
          if (Number.isNaN(b)) continue;
          sum += Math.abs(b - lambda[h - 1]! * a);
          count++;
        }
      }
    }
    return sum / count;
  };
  const rows: [string, number[]][] = [
    ['in-sample (the encoding)', norm.baseline!.persistence],
    ['cross-fitted', fitLambdas((t, n) => cross[(t - fs.start) * N + n]!, fs.start, fs.end, N)],
    ['test period (oracle)', fitLambdas(dev, split.test.start, split.test.end, N)],
    ['source training part', fitValueEncoding(c, sourceSplit(c).train, 0, 'seasonal-ar').baseline!.persistence],
    ['none (profile only)', new Array<number>(H).fill(0)],
  ];
  console.log(`${id} (${c.intervalMinutes} min), K = ${K}: lambda_1..${H} and test MAE of profile + persistence`);
  for (const [name, lambda] of rows) console.log(`  ${name.padEnd(26)} ${lambda.map((v) => v.toFixed(2)).join(' ')}   MAE ${mae(lambda).toFixed(4)}`);
}
