/**
 * Half-open step ranges: the unit every split, window and fit in data/ is expressed in.
 */
import type { City } from './city.js';
import { DataError } from './city.js';

/** Half-open [start, end) in time steps. */
export interface StepRange {
  start: number;
  end: number;
}

export function rangeLength(r: StepRange): number {
  return r.end - r.start;
}

export function checkRange(city: City, r: StepRange): void {
  if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < 0 || r.end > city.T || r.start >= r.end) {
    throw new DataError(`city ${city.id}: step range [${r.start}, ${r.end}) is empty or outside the series' ${city.T} steps`);
  }
}
