/**
 * Progress reporting contract between long-running library code and its front ends.
 * Library code only calls a `ProgressFn`; the CLI decides how to render it (bars with ETA on a
 * terminal, throttled log lines otherwise), so the library stays free of terminal concerns.
 */
export interface ProgressEvent {
  /** What is progressing, e.g. "bank la-loop", "diffusion", "fine-tune". */
  task: string;
  done: number;
  total: number;
  /** Short extra state, e.g. "loss 0.0312" or "region 17". */
  detail?: string;
  /** Worker lane (0-based) when several run at once; each lane gets its own bar. */
  lane?: number;
}

export type ProgressFn = (e: ProgressEvent) => void;

export const silentProgress: ProgressFn = () => {};

/** Cooperative cancellation (Ctrl-C): long loops check `signal.aborted` between units of work. */
export class Cancelled extends Error {
  constructor(what = 'run') {
    super(`${what} cancelled; rerun the same command to resume`);
    this.name = 'Cancelled';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw new Cancelled(what);
}
