/**
 * `gpd serve`: a JSON API over a finished run's models, on fastify (chosen because it validates
 * requests and builds its OpenAPI document from the same schemas, logs through pino, enforces a body
 * limit and drains in-flight requests on close, all built in and maintained).
 *
 *   GET  /healthz        liveness, once the models are loaded
 *   GET  /openapi.json   the OpenAPI 3 document (from the zod schemas in schemas.ts)
 *   GET  /v1/regions     the run's regions, the neighbours each model reads, the methods
 *   POST /v1/forecast    recent readings per node -> the next 6 steps per region
 *
 * Bad input gets 400 with the JSON path of the field (`path`), a body over the limit 413, and never
 * a stack trace: unexpected errors are logged and answered with a plain 500.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import { jsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { ForecastInputError } from '../transfer/forecast-input.js';
import type { ForecastEngine } from './engine.js';
import { ErrorResponse, ForecastRequest, ForecastResponse, HealthResponse, RegionsResponse } from './schemas.js';

export interface ServerOptions {
  engine: ForecastEngine;
  /** Largest request body in bytes (larger: 413). */
  bodyLimit?: number;
  logger?: FastifyServerOptions['logger'];
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** A zod validation failure that keeps each issue's path as an array (node ids may hold any character). */
class RequestValidationError extends Error {
  constructor(readonly issues: z.core.$ZodIssue[]) {
    super(issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`).join('; '));
  }
}

export async function buildServer(o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: o.bodyLimit ?? DEFAULT_BODY_LIMIT }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(({ schema }) => (data) => {
    const r = (schema as z.ZodType).safeParse(data);
    return r.success ? { value: r.data } : { error: new RequestValidationError(r.error.issues) };
  });
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const send = (statusCode: number, error: string, message: string, path?: (string | number)[]) => reply.code(statusCode).send({ statusCode, error, message, ...(path ? { path } : {}) });
    if (err instanceof RequestValidationError) return send(400, 'Bad Request', err.message, err.issues[0]!.path.map((p) => (typeof p === 'number' ? p : String(p))));
    if (err instanceof ForecastInputError) return send(400, 'Bad Request', err.message, err.path);
    // fastify's own client errors: unparsable JSON, wrong content type, body over the limit (413).
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return send(err.statusCode, err.statusCode === 413 ? 'Payload Too Large' : 'Bad Request', err.message, []);
    req.log.error({ err }, 'forecast failed');
    return send(500, 'Internal Server Error', 'the server could not compute this forecast (logged)');
  });

  // Draining: close() stops accepting connections and waits for in-flight requests, but a keep-alive
  // connection that finishes its request afterwards would stay open until its idle timeout (72 s), so
  // responses sent while closing ask the client to close the connection.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'gpd forecast API', description: `Forecasts of city ${o.engine.info.city} from a finished gpd run: the next 6 steps per region from its last 12 readings.`, version: '1' },
    },
    transform: jsonSchemaTransform,
  });

  const errors = { 400: ErrorResponse, 413: ErrorResponse, 500: ErrorResponse };
  app.get('/healthz', { schema: { description: 'liveness: the models are loaded', response: { 200: HealthResponse } } }, async () => ({
    status: 'ok' as const,
    city: o.engine.info.city,
    regions: o.engine.info.regions.length,
    workers: o.engine.workers,
  }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/v1/regions', { schema: { description: "the run's regions, the neighbours whose readings each region's model reads, and the methods", response: { 200: RegionsResponse } } }, async () => o.engine.info);
  app.post(
    '/v1/forecast',
    { schema: { description: 'the next 6 steps of each region from the last 12 readings of it and its neighbours', body: ForecastRequest, response: { 200: ForecastResponse, ...errors } } },
    async (req) => o.engine.forecast(req.body),
  );
  return app;
}
