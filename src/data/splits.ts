/**
 * Chronological splits of PROTOCOL.md as half-open step ranges.
 *
 * Boundaries use integer arithmetic (floor(7T/10), not floor(0.7*T)) so that no float rounding can
 * move a boundary by one step on some T.
 */
import type { City } from './city.js';
import { DataError, stepsPerDay } from './city.js';
import { IN_STEPS, OUT_STEPS, WINDOW_STEPS } from './task.js';
import { rangeLength, type StepRange } from './range.js';

/** Source city: first 80% trains, last 20% validates. */
export interface SourceSplit {
  train: StepRange;
  val: StepRange;
}

/** Target city: K whole few-shot days right before the test period (last 30%). */
export interface TargetSplit {
  fewShot: StepRange;
  /** The rest of the few-shot window (the first 80% unless that leaves validation under OUT_STEPS steps): fitting. */
  fewShotTrain: StepRange;
  /** Last 20% of the few-shot window, at least OUT_STEPS steps (one window's targets): early stopping and selection only. */
  fewShotVal: StepRange;
  test: StepRange;
  kDays: number;
}

/** Number of windows (stride 1) whose 18 steps all lie inside the range. */
export function windowCount(r: StepRange, stride = 1): number {
  const n = rangeLength(r) - WINDOW_STEPS;
  return n < 0 ? 0 : Math.floor(n / stride) + 1;
}

export function sourceSplit(city: City): SourceSplit {
  const T = city.T;
  const trainEnd = Math.floor((8 * T) / 10);
  const split: SourceSplit = { train: { start: 0, end: trainEnd }, val: { start: trainEnd, end: T } };
  if (rangeLength(split.train) < WINDOW_STEPS || rangeLength(split.val) < WINDOW_STEPS) {
    throw new DataError(
      `city ${city.id}: ${T} steps are too few for a source split (train [0, ${trainEnd}) and val [${trainEnd}, ${T}) ` +
        `must each hold at least ${WINDOW_STEPS} steps = one ${IN_STEPS}-in/${OUT_STEPS}-out window)`,
    );
  }
  return split;
}

export function targetSplit(city: City, kDays: number): TargetSplit {
  if (!Number.isInteger(kDays) || kDays < 1) {
    throw new DataError(`city ${city.id}: few-shot days must be a positive integer, got ${kDays}`);
  }
  const T = city.T;
  const spd = stepsPerDay(city);
  const testStart = Math.floor((7 * T) / 10);
  const fewLen = kDays * spd;
  const fewStart = testStart - fewLen;
  if (fewStart < 0) {
    const maxK = Math.floor(testStart / spd);
    throw new DataError(
      `city ${city.id}: ${kDays} few-shot day(s) need ${fewLen} steps before the test period (starts at step ${testStart} of ${T}, ` +
        `${spd} steps/day) but only ${testStart} exist; at most ${maxK} day(s) fit`,
    );
  }
  if (T - testStart < WINDOW_STEPS) {
    throw new DataError(`city ${city.id}: test period [${testStart}, ${T}) is shorter than one ${WINDOW_STEPS}-step window`);
  }
  // The last 20%, but never fewer than one window's 6 targets: at 1 h and K = 1 the 20% is 5 steps,
  // which holds no target window, so early stopping and shrinking would see nothing and fine-tuning
  // would silently run its whole budget on one day (measured: nyc K = 1 target-only 11.7 MAE against
  // 8.0 for historical average).
  const valLen = Math.max(fewLen - Math.floor((8 * fewLen) / 10), OUT_STEPS);
  const trainEnd = testStart - valLen;
  const split: TargetSplit = {
    fewShot: { start: fewStart, end: testStart },
    fewShotTrain: { start: fewStart, end: trainEnd },
    fewShotVal: { start: trainEnd, end: testStart },
    test: { start: testStart, end: T },
    kDays,
  };
  if (rangeLength(split.fewShotTrain) < WINDOW_STEPS) {
    throw new DataError(
      `city ${city.id}: the few-shot training part [${fewStart}, ${trainEnd}) of ${kDays} day(s) holds fewer than ` +
        `${WINDOW_STEPS} steps = one window (the last ${valLen} steps validate); use more few-shot days`,
    );
  }
  return split;
}

/**
 * How the few-shot days are cut into fitting and validation (early stopping, selection, shrinking):
 * - `days`: the last whole day(s) validate, max(1, round(K / 5)) of them, so that validation sees
 *   every time of day once (a metro's morning peak as well as its evening); training windows lie
 *   wholly in the days before, and a validation window's inputs may read the day before it (its
 *   targets are never trained on). One few-shot day cannot be split so: it falls back to `tail`.
 * - `tail`: the last 20% of the few-shot window (at least one window's targets), as targetSplit.
 * Why `days` (PROTOCOL.md allows a day-blocked hold-out): with `tail`, three metro days validate on
 * one afternoon and evening, and target-only fine-tuning was kept at an epoch that had diverged at
 * the morning peak (metro-shanghai, K = 3: test MAE 404.9 against 280.9 for its own init).
 */
export const HOLDOUT_KINDS = ['days', 'tail'] as const;
export type HoldoutKind = (typeof HOLDOUT_KINDS)[number];

export interface FewShotHoldout {
  kind: HoldoutKind;
  train: StepRange;
  val: StepRange;
}

export function fewShotHoldout(city: City, split: TargetSplit, kind: HoldoutKind): FewShotHoldout {
  if (kind === 'days' && split.kDays >= 2) {
    const spd = stepsPerDay(city);
    const valDays = Math.max(1, Math.round(split.kDays / 5));
    const valStart = split.fewShot.end - valDays * spd;
    return { kind, train: { start: split.fewShot.start, end: valStart }, val: { start: valStart, end: split.fewShot.end } };
  }
  return { kind: 'tail', train: split.fewShotTrain, val: split.fewShotVal };
}
