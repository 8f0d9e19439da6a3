/**
 * The shared model's checkpoint: `<bank>/shared.checkpoint.safetensors`, rewritten atomically after
 * every epoch and removed once shared.safetensors is stored. The shared model is one long fit over
 * every source region (an hour of Graph WaveNet on a big bank), and a killed build used to start it
 * over; with the checkpoint it resumes at the last finished epoch and ends bit-identical to an
 * uninterrupted build (train/fit.ts carries the parameters, the best ones so far, Adam's moments and
 * the shuffling stream).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../util/safetensors.js';
import { ArtefactError } from '../util/errors.js';
import type { FitCheckpoint } from '../train/fit.js';

export const SHARED_CHECKPOINT_FILE = 'shared.checkpoint.safetensors';
const FORMAT = 'gpd-fit-checkpoint';

/** The scalars of a checkpoint (the vectors are tensors); Infinity does not survive JSON, so it is null. */
interface Scalars {
  epoch: number;
  step: number;
  trainMs: number;
  bestLoss: number | null;
  bestEpoch: number;
  bad: number;
  adamT: number;
  shuffle: FitCheckpoint['shuffle'];
}

export function writeSharedCheckpoint(dir: string, c: FitCheckpoint, layoutHash: string): void {
  const f32 = (data: Float32Array) => ({ dtype: 'F32' as const, shape: [data.length], data });
  const scalars: Scalars = {
    epoch: c.epoch,
    step: c.step,
    trainMs: c.trainMs,
    bestLoss: Number.isFinite(c.bestLoss) ? c.bestLoss : null,
    bestEpoch: c.bestEpoch,
    bad: c.bad,
    adamT: c.adam.t,
    shuffle: c.shuffle,
  };
  writeSafetensors(
    join(dir, SHARED_CHECKPOINT_FILE),
    { params: f32(c.params), best: f32(c.best), adamM: f32(c.adam.m), adamV: f32(c.adam.v) },
    { format: FORMAT, layoutHash, scalars: JSON.stringify(scalars) },
  );
}

/**
 * The stored checkpoint, or undefined when there is none. A damaged or foreign one is removed with a
 * warning (it is a cache: the shared model is then trained from its start).
 */
export function readSharedCheckpoint(dir: string, paramCount: number, layoutHash: string, onWarning?: (message: string) => void): FitCheckpoint | undefined {
  const p = join(dir, SHARED_CHECKPOINT_FILE);
  if (!existsSync(p)) return undefined;
  try {
    const { tensors, metadata } = readSafetensors(p);
    if (metadata['format'] !== FORMAT) throw new ArtefactError(p, `${p}: not a gpd fit checkpoint`);
    if (metadata['layoutHash'] !== layoutHash) throw new ArtefactError(p, `${p}: layout hash ${metadata['layoutHash']} differs from the bank's ${layoutHash}`);
    const vector = (name: string): Float32Array => {
      const data = tensors[name]?.data;
      if (!(data instanceof Float32Array) || data.length !== paramCount) throw new ArtefactError(p, `${p}: no F32 tensor "${name}" of ${paramCount} values`);
      return data;
    };
    let s: Scalars;
    try {
      s = JSON.parse(metadata['scalars'] ?? '') as Scalars;
    } catch {
      throw new ArtefactError(p, `${p}: unreadable "scalars" metadata`);
    }
    return {
      epoch: s.epoch,
      step: s.step,
      trainMs: s.trainMs,
      params: vector('params'),
      best: vector('best'),
      bestLoss: s.bestLoss ?? Infinity,
      bestEpoch: s.bestEpoch,
      bad: s.bad,
      adam: { m: vector('adamM'), v: vector('adamV'), t: s.adamT },
      shuffle: s.shuffle,
    };
  } catch (err) {
    if (!(err instanceof ArtefactError)) throw err;
    onWarning?.(`${err.problem}: training the shared model from its start`);
    removeSharedCheckpoint(dir);
    return undefined;
  }
}

export function removeSharedCheckpoint(dir: string): void {
  rmSync(join(dir, SHARED_CHECKPOINT_FILE), { force: true });
}
