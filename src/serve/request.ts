/**
 * The request body a client sends for a city's most recent readings (POST /v1/forecast): what the
 * load benchmark and the tests send, and a template for clients in other languages (docs/serve.md).
 */
import type { City } from '../data/city.js';
import { IN_STEPS } from '../data/task.js';
import type { ForecastRequest } from './schemas.js';

/** The last 12 readings of every node (or of `nodes`) up to step `until` (default the last), feature `feature`. */
export function forecastRequestFromCity(city: City, opts: { until?: number; nodes?: string[]; feature?: number } = {}): ForecastRequest {
  const last = opts.until ?? city.T - 1;
  const f = opts.feature ?? 0;
  if (!city.timestamps) throw new Error(`city ${city.id} has no timestamps: a request needs the time of its last reading`);
  const wanted = new Set(opts.nodes ?? city.nodeIds);
  const readings: Record<string, (number | null)[]> = {};
  city.nodeIds.forEach((id, n) => {
    if (!wanted.has(id)) return;
    readings[id] = Array.from({ length: IN_STEPS }, (_, k) => {
      const i = ((last - IN_STEPS + 1 + k) * city.N + n) * city.F + f;
      return city.mask && city.mask[i] === 0 ? null : city.series[i]!;
    });
  });
  return { readings, end: new Date(city.timestamps[last]!).toISOString().slice(0, 16) };
}
