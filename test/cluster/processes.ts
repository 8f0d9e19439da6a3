/**
 * `gpd` child processes for the cluster tests (workers, a coordinator to kill), with their output
 * collected line by line and awaitable: a test waits for what a process says, never for a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

export class GpdProcess {
  readonly lines: string[] = [];
  private waiters: { re: RegExp; count: number; resolve: (line: string) => void }[] = [];
  readonly exited: Promise<number | null>;
  private readonly proc: ChildProcess;

  /** `gpd <args>` from `root` (a copy of the project in the refused-worker test). */
  constructor(args: string[], root = PROJECT) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (buf: Buffer) => {
      for (const line of buf.toString().split('\n')) {
        if (!line) continue;
        this.lines.push(line);
        for (const w of [...this.waiters]) {
          if (this.count(w.re) >= w.count) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    };
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }

  /** Resolves once `count` lines match (at once if they already do); rejects after `ms` or on exit. */
  waitFor(re: RegExp, count = 1, ms = 60_000): Promise<string> {
    if (this.count(re) >= count) return Promise.resolve(this.lines.filter((l) => re.test(l)).at(-1)!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${count} line(s) matching ${re} within ${ms} ms:\n${this.lines.join('\n')}`)), ms);
      const w = { re, count, resolve: (l: string) => (clearTimeout(timer), resolve(l)) };
      this.waiters.push(w);
      void this.exited.then((code) => {
        if (!this.waiters.includes(w)) return;
        clearTimeout(timer);
        reject(new Error(`process exited (${code}) before a line matched ${re}:\n${this.lines.join('\n')}`));
      });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

/** A `gpd worker` with one thread, ready once it says it takes jobs. */
export async function startWorker(url: string, stallSeconds: number, root = PROJECT): Promise<GpdProcess> {
  const w = new GpdProcess(['worker', '--redis', url, '--concurrency', '1', '--stall-seconds', String(stallSeconds)], root);
  await w.waitFor(/taking region jobs/);
  return w;
}
