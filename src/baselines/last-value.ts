/**
 * Last value repeated (PROTOCOL.md method 2): [count, 6] predictions in original units for a
 * region's windows, scored by the same metric code as every model.
 */
import type { City } from '../data/city.js';
import { IN_STEPS, OUT_STEPS } from '../data/task.js';
import type { RegionWindows } from '../data/windows.js';

/**
 * Repeat the last observed input value of the centre node; if the whole input is missing, fall back
 * to the historical average for that window (never to a fabricated number).
 */
export function lastValuePredict(city: City, region: number, feature: number, w: RegionWindows, fallback: Float32Array): Float32Array {
  const out = new Float32Array(w.count * OUT_STEPS);
  const { N, F } = city;
  for (let k = 0; k < w.count; k++) {
    const start = w.starts[k]!;
    let value = NaN;
    for (let t = start + IN_STEPS - 1; t >= start; t--) {
      const i = (t * N + region) * F + feature;
      if (!city.mask || city.mask[i] === 1) {
        value = city.series[i]!;
        break;
      }
    }
    for (let h = 0; h < OUT_STEPS; h++) out[k * OUT_STEPS + h] = Number.isNaN(value) ? fallback[k * OUT_STEPS + h]! : value;
  }
  return out;
}
