// The pool's worker entry: registers tsx inside the worker thread (a worker does not inherit the
// parent's loader on Node 20, see bank/pool.ts), then hands piscina the TypeScript worker's handler.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./pool-worker.ts');
export default worker.default;
