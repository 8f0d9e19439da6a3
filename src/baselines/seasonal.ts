/**
 * The seasonal baseline alone: the forecast every model of a seasonal encoding corrects (its
 * smoothed time-of-day profile plus damped persistence, data/baseline.ts), i.e. a network that
 * outputs zero. Reported as its own row so what the networks add stays visible.
 */
import type { Normalizer } from '../data/encoding.js';
import type { RegionWindows } from '../data/windows.js';

/** [count, 6] original units; only defined when the encoding has a baseline (data.baseline is not none). */
export function seasonalBaselinePredict(norm: Normalizer, w: RegionWindows): Float32Array {
  if (!norm.baseline) throw new Error('the seasonal baseline is defined only when the models have one (data.baseline is none)');
  return w.yOffset.slice();
}
