/**
 * Per-city z-score of one value channel. Fitted only on a range the model may see (PROTOCOL.md):
 * the source training part or the target's few-shot days, never the test period.
 */
import type { City } from './city.js';
import { DataError } from './city.js';
import { checkRange, type StepRange } from './range.js';
import { STD_FLOOR, type Normalizer } from './encoding.js';

/** Mean and population std of the observed values of `feature`, over all nodes, steps in `range`. */
export function fitNormalizer(city: City, range: StepRange, feature = 0): Normalizer {
  checkRange(city, range);
  if (!Number.isInteger(feature) || feature < 0 || feature >= city.F) {
    throw new DataError(`city ${city.id}: feature ${feature} does not exist (the city has ${city.F} feature(s))`);
  }
  const { N, F, series, mask } = city;
  // Two passes (mean, then squared deviations) in float64: stable for large-level series like counts.
  let sum = 0;
  let count = 0;
  for (let t = range.start; t < range.end; t++) {
    for (let n = 0, i = t * N * F + feature; n < N; n++, i += F) {
      if (mask && mask[i] === 0) continue;
      sum += series[i]!;
      count++;
    }
  }
  if (count === 0) {
    throw new DataError(`city ${city.id}: no observed values of feature ${feature} in steps [${range.start}, ${range.end}) to normalise with`);
  }
  const mean = sum / count;
  let ss = 0;
  for (let t = range.start; t < range.end; t++) {
    for (let n = 0, i = t * N * F + feature; n < N; n++, i += F) {
      if (mask && mask[i] === 0) continue;
      const d = series[i]! - mean;
      ss += d * d;
    }
  }
  const std = Math.max(Math.sqrt(ss / count), STD_FLOOR);
  return { feature, mean, std };
}

export function normalize(n: Normalizer, v: number): number {
  return (v - n.mean) / n.std;
}

export function denormalize(n: Normalizer, z: number): number {
  return z * n.std + n.mean;
}
