/**
 * The HTTP API's request and response schemas (zod): fastify validates requests with them, and the
 * OpenAPI document at /openapi.json is generated from them (fastify-type-provider-zod), so the
 * documentation cannot drift from what the server accepts.
 */
import { z } from 'zod';
import { IN_STEPS, OUT_STEPS } from '../data/task.js';
import { MODEL_METHODS } from '../transfer/evaluate.js';
import { GPD_AUTO } from '../transfer/forecast.js';

export const FORECAST_METHODS = [...MODEL_METHODS, GPD_AUTO] as const;

export const ForecastRequest = z
  .object({
    readings: z
      .record(z.string().min(1), z.array(z.number().nullable()).min(IN_STEPS))
      .describe(`node id -> its recent readings in original units, oldest first, the last one at \`end\`; at least the last ${IN_STEPS} are needed, null = no reading. Give each region's neighbours too (GET /v1/regions lists them)`),
    end: z.string().min(1).describe('ISO time of the last reading, e.g. 2024-05-01T08:30 (no zone = UTC clock time)'),
    regions: z.array(z.string().min(1)).min(1).optional().describe('region (node) ids to forecast; default: every region of the run that `readings` names'),
    method: z.enum(FORECAST_METHODS).optional().describe(`model to use; default gpd (fine-tuned GPD). ${GPD_AUTO}: per region the fine-tuned or zero-shot model, whichever did better on the few-shot validation days`),
    intervalMinutes: z.number().positive().optional().describe("the readings' interval; checked against the run's when given"),
  })
  .strict();
export type ForecastRequest = z.output<typeof ForecastRequest>;

const StepForecast = z.object({
  horizon: z.number().int().min(1).max(OUT_STEPS),
  time: z.string().nullable().describe('ISO time of the forecast step'),
  step: z.number().int().optional(),
  value: z.number().describe('forecast in original units'),
});

export const ForecastResponse = z.object({
  city: z.string(),
  method: z.enum(FORECAST_METHODS).describe('the method asked for'),
  intervalMinutes: z.number(),
  units: z.string().nullable(),
  lastReading: z.string().describe('time of the last reading used'),
  forecasts: z.array(z.object({ region: z.string(), method: z.enum(MODEL_METHODS).describe('the model that made this forecast'), steps: z.array(StepForecast) })),
});

export const RegionsResponse = z.object({
  city: z.string(),
  intervalMinutes: z.number(),
  units: z.string().nullable(),
  methods: z.array(z.enum(FORECAST_METHODS)).describe('methods with a model for every region'),
  defaultMethod: z.enum(FORECAST_METHODS),
  inputSteps: z.number().int(),
  regions: z.array(z.object({ id: z.string(), neighbours: z.array(z.string()).describe('nodes whose readings the region\'s model also reads') })),
});
export type RegionsResponse = z.output<typeof RegionsResponse>;

export const ErrorResponse = z.object({
  statusCode: z.number().int(),
  error: z.string(),
  message: z.string(),
  path: z.array(z.union([z.string(), z.number()])).optional().describe('where in the request body the problem is, e.g. ["readings", "n7", 3]'),
});

export const HealthResponse = z.object({ status: z.literal('ok'), city: z.string(), regions: z.number().int(), workers: z.number().int() });
