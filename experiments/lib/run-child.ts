/**
 * A child process of `--parallel` (parallel.ts): receives one RunPlan, runs it, sends back
 * "bank-ready" once the pipeline is past its bank stage, then the record (or the error), and exits.
 */
import { runPlan, type RunPlan } from './runner.js';
import { BANK_READY_LINE, type ChildMessage } from './parallel.js';

const send = (m: ChildMessage) => new Promise<void>((resolve) => process.send!(m, () => resolve()));

process.once('message', async ({ plan }: { plan: RunPlan }) => {
  let bankReady = false;
  try {
    const record = await runPlan(plan, (line) => {
      if (!bankReady && BANK_READY_LINE.test(line)) {
        bankReady = true;
        void send({ type: 'bank-ready' });
      }
    });
    await send({ type: 'done', record });
  } catch (err) {
    await send({ type: 'failed', message: (err as Error).stack ?? String(err) });
  }
  process.disconnect();
  process.exit(0);
});
