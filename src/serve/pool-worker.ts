/**
 * A forecast worker thread of the server's pool (engine.ts): its own tfjs backend and the run's models,
 * loaded once before piscina marks the thread ready; then one forecast per task.
 */
import { workerData } from 'piscina';
import { initBackend } from '../runtime/backend.js';
import { loadRunModels } from '../transfer/forecast.js';
import { replyOf, type WorkerReply } from './engine.js';
import type { ForecastRequest } from './schemas.js';

async function initialise(): Promise<(task: ForecastRequest | { warmup: true }) => WorkerReply | null> {
  await initBackend();
  const models = loadRunModels((workerData as { runDir: string }).runDir);
  return (task) => ('warmup' in task ? null : replyOf(models, task));
}

export default initialise();
