/**
 * `--redis <url>` and its companions for the commands that run region jobs (`gpd bank build`,
 * `gpd transfer`): with --redis the jobs go to `gpd worker` processes through Redis
 * (src/cluster/), without it nothing changes (the local threads, no Redis needed).
 */
import { Option, type Command } from 'commander';
import { ClusterEngine } from '../cluster/engine.js';
import { parseRedisUrl, redact, type RedisTarget } from '../cluster/redis-url.js';
import { JobsFailed, type JobEngine } from '../bank/jobs.js';
import { UserError } from './errors.js';

export interface ClusterFlags {
  redis?: string;
  maxQueued?: number;
  attempts?: number;
}

const positiveInt = (flag: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--${flag} must be a positive integer, got "${raw}"`);
  return n;
};

export function addClusterOptions(cmd: Command): Command {
  return cmd
    .option('--redis <url>', 'run the region jobs on `gpd worker` processes through this Redis (redis://[:password@]host:port, rediss:// for TLS, or env:VAR to read it from a variable); default: local threads')
    .addOption(new Option('--max-queued <n>', 'with --redis: jobs in Redis at a time (each holds its region slice)').argParser(positiveInt('max-queued')))
    .addOption(new Option('--attempts <n>', 'with --redis: attempts per job before it fails for good').argParser(positiveInt('attempts')));
}

/** The command line with the Redis URL's secrets scrubbed (it is recorded in run folders). */
export function safeCommandLine(line: string, target: RedisTarget | null): string {
  return target ? redact(line, target) : line;
}

/**
 * Run `work` with the cluster engine when --redis was given (undefined otherwise: the local default),
 * closing it afterwards. Jobs that failed for good print their errors by region and set exit code 1.
 */
export async function withJobEngine<T>(flags: ClusterFlags, log: (message: string) => void, work: (engine: JobEngine | undefined, target: RedisTarget | null) => Promise<T>): Promise<T | undefined> {
  if (!flags.redis && (flags.maxQueued !== undefined || flags.attempts !== undefined)) throw new UserError('--max-queued and --attempts need --redis');
  const target = flags.redis ? parseRedisUrl(flags.redis) : null;
  const engine = target ? await ClusterEngine.connect({ redis: target, log, ...(flags.maxQueued ? { maxQueued: flags.maxQueued } : {}), ...(flags.attempts ? { attempts: flags.attempts } : {}) }) : undefined;
  try {
    return await work(engine, target);
  } catch (err) {
    if (!(err instanceof JobsFailed)) {
      // Whatever failed, its message and stack must not carry the URL's password to the terminal.
      if (target && err instanceof Error) Object.assign(err, { message: redact(err.message, target), stack: err.stack && redact(err.stack, target) });
      throw err;
    }
    console.error(`gpd: ${err.message}`);
    process.exitCode = 1;
    return undefined;
  } finally {
    await engine?.close();
  }
}
