/**
 * Several transfer runs at once (`--parallel N`), each in its own child process: after its bank, a run
 * computes on one thread (the wasm backend), so N runs use up to N cores.
 *
 * What makes it safe:
 * - banks: the caller builds every bank the runs need first, one at a time (bank/pool.ts already uses
 *   the cores). A run still opens its bank at its start (`gpd transfer` checks the settings and clears
 *   interrupted temp files there), so at most one run per bank is in that stage at a time: a run may
 *   start only when no other run of its bank is still before the pipeline's "bank: ..." log line;
 * - run folders: every run writes only its own (runs/<key>/);
 * - records: only this process writes runs.json; children send their record back and `onRecord`
 *   merges it (atomic write, re-reading records other processes added).
 * A failed run stops new ones from starting; the running ones finish and keep their records.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { RunRecord } from './records.js';
import type { RunPlan } from './runner.js';

/** What a child sends back (run-child.ts). */
export type ChildMessage = { type: 'bank-ready' } | { type: 'done'; record: RunRecord } | { type: 'failed'; message: string };

/** The pipeline's log line right after the bank stage (transfer/pipeline.ts: "bank: N region models ..."). */
export const BANK_READY_LINE = /^bank: /;

const CHILD = new URL('./run-child.ts', import.meta.url).pathname;

function prefixLines(stream: Readable | null, prefix: string, out: NodeJS.WriteStream): void {
  if (!stream) return;
  createInterface({ input: stream }).on('line', (line) => out.write(`${prefix}${line}\n`));
}

/**
 * The order runs start in: the first pending plan whose bank has no run still opening it.
 * Exposed for the test; `opening` holds the bank folders of runs not yet past their bank stage.
 */
export function nextStartable(pending: readonly RunPlan[], opening: ReadonlySet<string>): number {
  return pending.findIndex((p) => !opening.has(p.bankDir));
}

export async function runInParallel(plans: RunPlan[], parallel: number, onRecord: (r: RunRecord) => void): Promise<void> {
  const pending = [...plans];
  const opening = new Set<string>();
  const failures: string[] = [];
  let active = 0;
  let wake: () => void = () => {};

  const start = (plan: RunPlan) => {
    active++;
    opening.add(plan.bankDir);
    let bankDone = false;
    const releaseBank = () => {
      if (!bankDone) opening.delete(plan.bankDir);
      bankDone = true;
      wake();
    };
    const child: ChildProcess = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    prefixLines(child.stdout, `[${plan.key}] `, process.stdout);
    prefixLines(child.stderr, `[${plan.key}] `, process.stderr);
    let finished = false;
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'bank-ready') releaseBank();
      else if (m.type === 'done') {
        finished = true;
        onRecord(m.record);
      } else {
        finished = true;
        failures.push(`${plan.key}: ${m.message}`);
      }
    });
    child.on('close', (code, signal) => {
      if (!finished) failures.push(`${plan.key}: child exited with ${signal ?? `code ${code}`} before reporting`);
      else if (!bankDone && failures.length === 0) {
        console.error(`warning: ${plan.key} never logged its bank stage done (transfer/pipeline.ts's "bank: ..." line changed?), so runs sharing its bank ran one at a time`);
      }
      active--;
      releaseBank();
    });
    child.send({ plan });
  };

  while (pending.length > 0 || active > 0) {
    while (failures.length === 0 && active < parallel) {
      const i = nextStartable(pending, opening);
      if (i < 0) break;
      start(pending.splice(i, 1)[0]!);
    }
    if (active === 0) break;
    await new Promise<void>((resolve) => (wake = resolve));
  }
  if (failures.length > 0) throw new Error(`${failures.length} run(s) failed:\n  ${failures.join('\n  ')}`);
}
