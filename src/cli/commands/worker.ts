import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { parseRedisUrl } from '../../cluster/redis-url.js';
import { runWorker } from '../../cluster/worker.js';
import { UserError } from '../errors.js';

const positive = (flag: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`--${flag} must be a positive number, got "${raw}"`);
  return n;
};

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'take region jobs (bank training, transfer evaluation) from a Redis queue and run them on worker threads, ' +
        'for `gpd bank build --redis` and `gpd transfer --redis` on other machines. Needs nothing but Redis. ' +
        'Ctrl-C or SIGTERM finishes the running jobs, then exits (twice: at once; the jobs go to other workers). See docs/cluster.md.',
    )
    .requiredOption('--redis <url>', 'redis://[:password@]host:port, rediss:// for TLS, or env:VAR to read the URL from a variable')
    .option('--concurrency <n>', 'worker threads = jobs at once, one core each (default: the cores of this machine)', positive('concurrency'))
    .option('--stall-seconds <s>', 'a job whose worker stops renewing its lock for this long goes to another worker', positive('stall-seconds'), 30)
    .action(async (o: { redis: string; concurrency?: number; stallSeconds: number }) => {
      const target = parseRedisUrl(o.redis);
      if (o.concurrency !== undefined && !Number.isInteger(o.concurrency)) throw new UserError(`--concurrency must be a positive integer, got ${o.concurrency}`);
      const controller = new AbortController();
      let signals = 0;
      const onSignal = () => {
        if (++signals > 1) process.exit(130);
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await runWorker({ redis: target, concurrency: o.concurrency ?? availableParallelism(), stallSeconds: o.stallSeconds, signal: controller.signal, log: (m) => console.error(`${new Date().toISOString()} ${m}`) });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
