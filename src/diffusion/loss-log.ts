/**
 * The trainer's loss log (`<runDir>/loss.jsonl`): one JSON record per step, appended as training
 * goes, so a kill can leave a tail written after the last checkpoint, or a line cut short.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { ArtefactError } from '../util/errors.js';

export const LOSS_LOG = 'loss.jsonl';

export interface LossRecord {
  step: number;
  loss: number;
  /** Held-out loss, on validation steps. */
  val?: number;
}

/**
 * The training log of a trainer folder (`runDir`), one record per step; a resumed run may repeat
 * steps, so the last record of each step is kept. Empty when the folder holds no log.
 */
export function readLossLog(runDir: string): LossRecord[] {
  const file = join(runDir, LOSS_LOG);
  if (!existsSync(file)) return [];
  const byStep = new Map<number, LossRecord>();
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let r: LossRecord;
      try {
        r = JSON.parse(line) as LossRecord;
      } catch {
        throw new ArtefactError(file, `${file}:${i + 1}: not a JSON record`, 'delete the file to drop the training curve');
      }
      byStep.set(r.step, r);
    });
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/**
 * On resume from a checkpoint at `step`: drop the lines written after it (the interrupted tail), so
 * the curve has no duplicates. A line cut short by a kill does not parse: it is part of that tail.
 */
export function trimLossLog(file: string, step: number): void {
  if (!existsSync(file)) return;
  const stepOf = (l: string) => {
    try {
      return (JSON.parse(l) as { step: number }).step;
    } catch {
      return Infinity;
    }
  };
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => stepOf(l) <= step);
  writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}
