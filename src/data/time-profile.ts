/**
 * Per-node time-of-day profiles: the mean of the observed values of one channel in each
 * time-of-day slot over a fit range, optionally pooled over a circular window of neighbouring
 * slots. The historical-average baseline (PROTOCOL.md method 1) is the unpooled profile; the
 * seasonal baseline under every model (data/baseline.ts) pools over +-1 hour, because a profile
 * from K = 3 days has only 3 readings per slot.
 */
import type { City } from './city.js';
import { DataError, slotClockMinutes, stepsPerDay } from './city.js';
import { checkRange, type StepRange } from './range.js';

export interface TimeProfile {
  slotsPerDay: number;
  N: number;
  /** Slots pooled on either side of each slot (0 = the slot alone). */
  halfWindowSlots: number;
  /** [slotsPerDay, N] mean per slot and node, original units (fallbacks filled in). */
  table: Float64Array;
}

const MS_PER_DAY = 86_400_000;

/**
 * Fraction of the day in [0,1) at step t (clock time): from timestamps (UTC clock) if present, else
 * from the step's slot (t mod stepsPerDay; step 0 is a day's first slot), shifted by the daily
 * window's start for a series covering part of each day.
 */
export function timeOfDay(city: City, t: number): number {
  if (city.timestamps) {
    const ms = city.timestamps[t]!;
    const inDay = ((ms % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
    return inDay / MS_PER_DAY;
  }
  return slotClockMinutes(city, t % stepsPerDay(city)) / 1440;
}

/**
 * Time-of-day slot of step t in [0, slotsPerDay), consistent with the time-of-day input feature of
 * the windows. Around the clock the day has slotsPerDay equal slots from midnight; with a daily
 * window the slots divide the window (its first reading is slot 0).
 */
export function timeSlot(city: City, t: number, slotsPerDay = stepsPerDay(city)): number {
  if (!city.day) return Math.round(timeOfDay(city, t) * slotsPerDay) % slotsPerDay;
  const span = city.day.steps * city.intervalMinutes;
  const sinceStart = (((timeOfDay(city, t) * 1440 - city.day.startMinutes) % 1440) + 1440) % 1440;
  return Math.min(slotsPerDay - 1, Math.round((sinceStart / span) * slotsPerDay));
}

/**
 * Fit on the observed values of `feature` in `fit`. Slot s averages every observed reading of the
 * node in slots s - h .. s + h (circular, h = halfWindowSlots). A (slot, node) with no reading in its
 * window falls back to the node's mean over the period, then to the city's mean.
 */
export function fitTimeProfile(city: City, fit: StepRange, feature = 0, halfWindowSlots = 0): TimeProfile {
  checkRange(city, fit);
  if (!Number.isInteger(feature) || feature < 0 || feature >= city.F) {
    throw new DataError(`city ${city.id}: feature ${feature} does not exist (the city has ${city.F} feature(s))`);
  }
  const { N, F, series, mask } = city;
  const slots = stepsPerDay(city);
  if (!Number.isInteger(halfWindowSlots) || halfWindowSlots < 0 || 2 * halfWindowSlots + 1 > slots) {
    throw new Error(`time profile: halfWindowSlots must be an integer in [0, ${Math.floor((slots - 1) / 2)}] for ${slots} slots per day, got ${halfWindowSlots}`);
  }
  const sum = new Float64Array(slots * N);
  const cnt = new Float64Array(slots * N);
  const nodeSum = new Float64Array(N);
  const nodeCnt = new Float64Array(N);
  let allSum = 0;
  let allCnt = 0;
  for (let t = fit.start; t < fit.end; t++) {
    const row = timeSlot(city, t, slots) * N;
    for (let n = 0, i = t * N * F + feature; n < N; n++, i += F) {
      if (mask && mask[i] === 0) continue;
      const v = series[i]!;
      sum[row + n]! += v;
      cnt[row + n]!++;
      nodeSum[n]! += v;
      nodeCnt[n]!++;
      allSum += v;
      allCnt++;
    }
  }
  if (allCnt === 0) {
    throw new DataError(`city ${city.id}: no observed values of feature ${feature} in steps [${fit.start}, ${fit.end}) to fit a time-of-day profile`);
  }
  const cityMean = allSum / allCnt;
  const table = new Float64Array(slots * N);
  for (let s = 0; s < slots; s++) {
    for (let n = 0; n < N; n++) {
      let ws = 0;
      let wc = 0;
      for (let d = -halfWindowSlots; d <= halfWindowSlots; d++) {
        // Around the clock the day is circular; a daily window is not (its last slot is not next to its first).
        if (city.day && (s + d < 0 || s + d >= slots)) continue;
        const k = (((s + d) % slots) + slots) % slots * N + n;
        ws += sum[k]!;
        wc += cnt[k]!;
      }
      table[s * N + n] = wc > 0 ? ws / wc : nodeCnt[n]! > 0 ? nodeSum[n]! / nodeCnt[n]! : cityMean;
    }
  }
  return { slotsPerDay: slots, N, halfWindowSlots, table };
}

/** The profile's value for node `node` at step t. */
export function profileAt(p: TimeProfile, city: City, t: number, node: number): number {
  return p.table[timeSlot(city, t, p.slotsPerDay) * p.N + node]!;
}
