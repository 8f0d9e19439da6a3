import type { Command } from 'commander';
import { Option } from 'commander';
import { availableParallelism } from 'node:os';
import { initBackend } from '../../runtime/backend.js';
import { createEngine } from '../../serve/engine.js';
import { buildServer, DEFAULT_BODY_LIMIT } from '../../serve/server.js';
import { z } from 'zod';
import { schemaArg } from '../config-options.js';

/**
 * One forecast thread per core: the server thread's own share (HTTP, JSON, validation) is small next to
 * the forecasts (~9 ms of tfjs work per all-region demo request), so it needs no core of its own
 * (measured on 2 cores, docs/serve.md).
 */
export const DEFAULT_SERVE_WORKERS = Math.max(1, availableParallelism());

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      "serve a finished run's models over HTTP: POST /v1/forecast (recent readings per node -> 6-step forecasts per region), " +
        'GET /v1/regions, GET /healthz, GET /openapi.json; JSON logs (pino); SIGTERM drains in-flight requests',
    )
    .requiredOption('--run <dir>', 'a finished run folder of `gpd transfer` or `gpd demo`')
    .option('--host <address>', 'address to bind (loopback unless you mean to expose it)', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port, printed in the log)', schemaArg('port', z.number().int().min(0).max(65535)), 8080)
    .option('--workers <n>', 'forecast worker threads, each with its own copy of the models (0 = forecast in the server thread)', schemaArg('workers', z.number().int().min(0)), DEFAULT_SERVE_WORKERS)
    .option('--body-limit <bytes>', 'largest request body; larger requests get 413', schemaArg('body-limit', z.number().int().positive()), DEFAULT_BODY_LIMIT)
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (o: { run: string; host: string; port: number; workers: number; bodyLimit: number; logLevel: string }) => {
      if (o.workers === 0) await initBackend();
      const engine = await createEngine(o.run, o.workers);
      const app = await buildServer({ engine, bodyLimit: o.bodyLimit, logger: { level: o.logLevel } });
      let closing = false;
      const shutdown = (signal: string) => {
        if (closing) return;
        closing = true;
        app.log.info({ signal }, 'draining in-flight requests');
        // fastify's close stops accepting connections and resolves once the in-flight requests are answered.
        void app
          .close()
          .then(() => engine.close())
          .then(() => app.log.info('stopped'))
          .catch((err: unknown) => {
            app.log.error({ err }, 'shutdown failed');
            process.exitCode = 1;
          });
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      await app.listen({ host: o.host, port: o.port });
      app.log.info({ run: o.run, city: engine.info.city, regions: engine.info.regions.length, workers: engine.workers }, 'models loaded');
    });
}
