import { DataError } from '../data/city.js';
import { ConfigError } from '../config/load.js';
import { Cancelled } from '../util/progress.js';

/** Known, user-fixable errors print one clear message; anything else keeps its stack for bug reports. */
export function reportCliError(err: unknown): number {
  if (err instanceof DataError) {
    console.error(`gpd: data error: ${err.message}`);
    return 2;
  }
  if (err instanceof ConfigError) {
    console.error(`gpd: ${err.message}`);
    return 2;
  }
  if (err instanceof Cancelled) {
    console.error(`gpd: ${err.message}`);
    return 130;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && e.code === 'ENOENT') {
    console.error(`gpd: file not found: ${e.path ?? e.message}`);
    return 2;
  }
  if (e && (e.name === 'RangeError' || /out of memory|Cannot allocate/i.test(String(e.message)))) {
    console.error(`gpd: ${e.message}\nhint: this run may need less memory: lower --set bank.batchSize / diffusion.batchSize, or use fewer regions (bank.maxRegions).`);
    return 1;
  }
  if (e && e.name === 'UserError') {
    console.error(`gpd: ${e.message}`);
    return 2;
  }
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return 1;
}

/** An error whose message is the whole story (bad option combination, missing run folder...). */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
