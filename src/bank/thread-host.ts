/**
 * The worker-thread side of bank/pool.ts: runs jobs of the kinds it was given, one at a time, in
 * this thread's own tfjs instance. A thread entry file is one call: `serveJobs({ kind: handler })`.
 *
 * Protocol (main -> thread): job {id, kind, payload} any number of times, then exit.
 * (thread -> main): ready {backend} | fatal {message} (no backend) | progress {id, done, total} | result {id, result} (typed arrays
 * transferred, not copied) | cancelled {id} | error {id, message, stack}.
 * Cancellation: main sets this lane's slot of a shared Int32Array, checked before every training step.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../runtime/backend.js';
import { Cancelled } from '../util/progress.js';
import type { JobHandlers } from './jobs.js';

export type ToThread = { type: 'job'; id: number; kind: string; payload: unknown } | { type: 'exit' };

/** The buffers of every typed array in a result, to transfer instead of copying. */
function transferables(value: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else if (Array.isArray(value)) {
    for (const v of value) transferables(v, out);
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) transferables(v, out);
  }
  return [...out];
}

export function serveJobs(handlers: JobHandlers): void {
  const port = parentPort;
  if (!port) throw new Error('serveJobs must run in a worker thread');
  const { stopFlags, lane } = workerData as { stopFlags: SharedArrayBuffer; lane: number };
  const stop = new Int32Array(stopFlags);
  const shouldStop = () => Atomics.load(stop, lane) !== 0;
  // Jobs run one after another even if messages arrive while one is training.
  let queue: Promise<void> = initBackend().then(
    (backend) => port.postMessage({ type: 'ready', backend }),
    (err: Error) => port.postMessage({ type: 'fatal', message: err.message }),
  );
  port.on('message', (msg: ToThread) => {
    queue = queue.then(async () => {
      if (msg.type === 'exit') {
        port.close();
        return;
      }
      const { id } = msg;
      try {
        const handler = handlers[msg.kind];
        if (!handler) throw new Error(`this worker thread runs no "${msg.kind}" jobs (it knows ${Object.keys(handlers).join(', ')})`);
        const result = await handler(msg.payload as never, { shouldStop, onProgress: (done, total) => port.postMessage({ type: 'progress', id, done, total }) });
        port.postMessage({ type: 'result', id, result }, transferables(result));
      } catch (err) {
        if (err instanceof Cancelled) port.postMessage({ type: 'cancelled', id });
        else port.postMessage({ type: 'error', id, message: (err as Error).message, stack: (err as Error).stack });
      }
    });
  });
}
