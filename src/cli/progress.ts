/**
 * Renders library ProgressEvents: one bar per lane with ETA on a terminal, throttled plain log
 * lines when stdout is not a terminal (CI logs, pipes), so long runs are visible without flooding.
 */
import type { ProgressEvent, ProgressFn } from '../util/progress.js';

interface LaneState {
  task: string;
  done: number;
  total: number;
  detail?: string;
  startedAt: number;
  lastLogAt: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function eta(l: LaneState, now: number): number {
  const elapsed = (now - l.startedAt) / 1000;
  if (l.done <= 0) return NaN;
  return (elapsed / l.done) * (l.total - l.done);
}

export interface RendererOptions {
  stream?: NodeJS.WriteStream;
  /** Force plain log lines (default: when the stream is not a TTY). */
  plain?: boolean;
  /** Minimum seconds between plain log lines per lane. */
  logEverySeconds?: number;
}

export class ProgressRenderer {
  private lanes = new Map<string, LaneState>();
  private drawnLines = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly plain: boolean;
  private readonly logEvery: number;
  private lastDraw = 0;

  constructor(opts: RendererOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.plain = opts.plain ?? !this.stream.isTTY;
    this.logEvery = opts.logEverySeconds ?? 10;
  }

  readonly onProgress: ProgressFn = (e: ProgressEvent) => {
    const key = `${e.task}#${e.lane ?? 0}`;
    const now = Date.now();
    let l = this.lanes.get(key);
    if (!l || e.done < l.done || l.total !== e.total) {
      l = { task: e.task, done: e.done, total: e.total, startedAt: now, lastLogAt: 0 };
      this.lanes.set(key, l);
    }
    l.done = e.done;
    l.total = e.total;
    l.detail = e.detail;
    const finished = e.done >= e.total;
    if (this.plain) {
      // Worker lanes restart for every unit of work: report them only periodically, and the
      // top-level task (no lane) also when it ends.
      const due = l.lastLogAt === 0 ? now - l.startedAt >= this.logEvery * 1000 : now - l.lastLogAt >= this.logEvery * 1000;
      if ((finished && e.lane === undefined) || (!finished && due)) {
        l.lastLogAt = now;
        this.stream.write(`${this.line(l, now, false)}\n`);
      }
      if (finished) this.lanes.delete(key);
      return;
    }
    if (finished || now - this.lastDraw > 100) this.draw(now);
    if (finished) {
      // Keep the finished bar on screen, stop redrawing it.
      this.clear();
      this.stream.write(`${this.line(l, now, true)}\n`);
      this.lanes.delete(key);
      this.draw(now);
    }
  };

  /** Print a message without tearing the bars. */
  log(message: string): void {
    if (!this.plain) this.clear();
    this.stream.write(message + '\n');
    if (!this.plain) this.draw(Date.now());
  }

  done(): void {
    if (!this.plain) this.clear();
    this.lanes.clear();
  }

  private line(l: LaneState, now: number, bar: boolean): string {
    const frac = l.total > 0 ? Math.min(1, l.done / l.total) : 1;
    const elapsed = (now - l.startedAt) / 1000;
    const timing = l.done >= l.total ? `in ${formatDuration(elapsed)}` : `ETA ${formatDuration(eta(l, now))}`;
    const detail = l.detail ? ` ${l.detail}` : '';
    // Fractional progress (e.g. epochs part-way through) prints with two decimals.
    const done = Number.isInteger(l.done) ? String(l.done) : l.done.toFixed(2);
    if (!bar) return `[${l.task}] ${done}/${l.total} (${(frac * 100).toFixed(0)}%) ${timing}${detail}`;
    const width = 24;
    const filled = Math.round(frac * width);
    return `${l.task.padEnd(18).slice(0, 18)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${l.total} ${timing}${detail}`;
  }

  private clear(): void {
    for (let i = 0; i < this.drawnLines; i++) this.stream.write('\x1b[1A\x1b[2K');
    this.drawnLines = 0;
  }

  private draw(now: number): void {
    this.clear();
    this.lastDraw = now;
    for (const l of this.lanes.values()) this.stream.write(this.line(l, now, true) + '\n');
    this.drawnLines = this.lanes.size;
  }
}
