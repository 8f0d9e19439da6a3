/**
 * How the CLI ends on an error (util/errors.ts has the taxonomy): an error the user can fix prints
 * one message and exits 2; an interrupted run exits 130; anything else is a bug and prints its stack
 * (exit 1). `GPD_DEBUG=1` adds the stack to every error, user errors included.
 */
import { Cancelled } from '../util/progress.js';
import { DataError, UserError, storageError } from '../util/errors.js';

export { UserError };

const debug = () => /^(1|true|yes)$/i.test(process.env.GPD_DEBUG ?? '');

/** Known, user-fixable errors print one clear message; anything else keeps its stack for bug reports. */
export function reportCliError(err: unknown): number {
  const { code, message } = describe(err);
  console.error(message);
  // A bug's message is its stack already.
  if (debug() && code !== 1 && err instanceof Error && err.stack) console.error(`\n${err.stack}`);
  return code;
}

function describe(err: unknown): { code: number; message: string } {
  if (err instanceof Cancelled) return { code: 130, message: `gpd: ${err.message}` };
  if (err instanceof DataError) return { code: 2, message: `gpd: data error: ${err.message}` };
  if (err instanceof UserError) return { code: 2, message: `gpd: ${err.message}` };
  // A file system error that no stage turned into a StorageError still names its path.
  const e = err as NodeJS.ErrnoException | undefined;
  const fs = e && typeof e.path === 'string' ? storageError(err, e.path, e.syscall ?? 'use') : undefined;
  if (fs) return { code: 2, message: `gpd: ${fs.message}` };
  if (e && (e.name === 'RangeError' || /out of memory|Cannot allocate/i.test(String(e.message)))) {
    return { code: 1, message: `gpd: ${e.message}\nhint: this run may need less memory: lower --set bank.batchSize / diffusion.batchSize, or use fewer regions (bank.maxRegions).` };
  }
  return { code: 1, message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}
