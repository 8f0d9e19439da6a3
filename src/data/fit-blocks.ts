/**
 * Source training under the target's regime: the value encoding fitted on K days, forecasts scored on
 * the day after them (bank.encodingFitDays).
 *
 * A target's encoding (profile, persistence, mean, std; data/baseline.ts) is fitted on its K few-shot
 * days and its models forecast the days after them, where the 3-day profile's own errors are part of
 * what remains to be corrected. A source model whose encoding was fitted on the source's whole training
 * part (~25 days a slot) learns corrections for a far more accurate profile. The hypothesis: carried to
 * a target, those are the wrong corrections, and this is why source models transferred zero-shot do
 * worse than the seasonal baseline alone. Measured (npm run experiments:regime: one shared STGCN from
 * 12 source regions, 6 epochs, zero-shot on 24 target regions, test MAE, whole-part fit vs K-day
 * blocks, seasonal baseline alone in brackets): shenzhen -> la-loop 3.901 vs 3.864 (3.840); la-loop
 * -> shenzhen 3.319 vs 3.305 (3.312); montevideo -> nyc 3.957 vs 3.979 (3.688); nyc -> montevideo
 * 0.609 vs 0.702 (0.520). Small gains on the speed cities, losses on the flow cities; halving either
 * network's output helped more than the blocks. So this is an option (off by default), not the fix.
 *
 * Blocks slide by one day: block d fits on days [d, d + K) and forecasts day d + K. Its forecast
 * windows may read inputs back into its fit days (as a target's test windows read its last few-shot
 * steps); targets before the source split's boundary train, targets after it validate. No block's
 * training targets reach the validation part, and every block's fit days precede its forecasts.
 */
import type { City } from './city.js';
import { DataError, stepsPerDay } from './city.js';
import { fitValueEncoding } from './baseline.js';
import type { SourceSplit } from './splits.js';
import type { Normalizer, BaselineKind } from './encoding.js';
import type { StepRange } from './range.js';
import { OUT_STEPS } from './task.js';

export interface EncodingBlock {
  /** Days the encoding was fitted on. */
  fit: StepRange;
  norm: Normalizer;
  /** Forecast targets in the training part / the validation part (absent when the day has none there). */
  train?: StepRange;
  val?: StepRange;
}

/** Blocks of `days` fit days + 1 forecast day, sliding by a day, over the whole series. */
export function encodingBlocks(city: City, split: SourceSplit, feature: number, baseline: BaselineKind, days: number): EncodingBlock[] {
  if (!Number.isInteger(days) || days < 1) throw new DataError(`city ${city.id}: encodingFitDays must be a positive integer, got ${days}`);
  const spd = stepsPerDay(city);
  const boundary = split.train.end;
  const blocks: EncodingBlock[] = [];
  for (let d = 0; (d + days + 1) * spd <= city.T; d++) {
    const fit = { start: d * spd, end: (d + days) * spd };
    const day = { start: fit.end, end: fit.end + spd };
    const train = day.start < boundary ? { start: day.start, end: Math.min(day.end, boundary) } : undefined;
    const val = day.end > boundary ? { start: Math.max(day.start, boundary), end: day.end } : undefined;
    const usable = (r?: StepRange) => (r && r.end - r.start >= OUT_STEPS ? r : undefined);
    const block: EncodingBlock = { fit, norm: fitValueEncoding(city, fit, feature, baseline) };
    const t = usable(train);
    const v = usable(val);
    if (t) block.train = t;
    if (v) block.val = v;
    if (t || v) blocks.push(block);
  }
  const trains = blocks.filter((b) => b.train).length;
  const vals = blocks.filter((b) => b.val).length;
  if (trains === 0 || vals === 0) {
    const need = days + 1;
    throw new DataError(
      `city ${city.id}: fitting the encoding on ${days}-day blocks needs at least one forecast day (after ${days} fit days) in each of the ` +
        `training part [0, ${boundary}) and the validation part [${boundary}, ${city.T}); ${(city.T / spd).toFixed(1)} days hold ` +
        `${trains} training and ${vals} validation block(s) (at least ${need} days before the boundary are needed)`,
    );
  }
  return blocks;
}
