/**
 * What a worker accepts from Redis and a coordinator accepts back: the zod schemas of every job
 * kind's payload and result. A worker validates each payload against its kind's schema before
 * anything runs (structure, types, and every array's length against the dimensions it claims), and
 * refuses the job naming the first fields that fail; the coordinator validates results the same way
 * before storing them. Domain checks (a step range inside the series, a vector of the layout's size)
 * stay with the code that uses the values and fail the job with their own message.
 */
import { z } from 'zod';
import { MODEL_NAMES } from '../models/registry.js';
import { INIT_KINDS } from '../bank/region-job.js';
import { BASELINE_KINDS } from '../data/encoding.js';
import { FinetuneConfig, TrainFields } from '../train/config.js';
import { HOLDOUT_KINDS } from '../data/splits.js';
import { METHODS, MODEL_METHODS } from '../transfer/methods.js';
import { BANK_REGION_JOB } from '../bank/region-payload.js';
import { TRANSFER_REGION_JOB } from '../transfer/region-eval.js';

const f32 = z.instanceof(Float32Array, { message: 'must be a float32 array' });
const f64 = z.instanceof(Float64Array, { message: 'must be a float64 array' });
const u8 = z.instanceof(Uint8Array, { message: 'must be a uint8 array' });
const count = z.number().int().nonnegative();
const positive = z.number().int().positive();
/** Metrics of a region without observed targets are NaN. */
const metric = z.union([z.number(), z.nan()]);

/** An array's length against the dimensions its object claims. */
function sized(ctx: z.RefinementCtx, path: (string | number)[], actual: number, expected: number, what: string): void {
  if (actual !== expected) ctx.addIssue({ code: 'custom', path, message: `has ${actual} values, ${what} needs ${expected}` });
}

const Range = z.object({ start: count, end: count }).strict();

export const CitySlice = z
  .object({
    id: z.string().min(1),
    intervalMinutes: z.number().positive(),
    day: z.object({ startMinutes: z.number().nonnegative(), steps: positive }).strict().optional(),
    nodeIds: z.array(z.string()),
    T: positive,
    N: positive,
    F: positive,
    series: f32,
    mask: u8.optional(),
    timestamps: f64.optional(),
    adjacency: f32,
    attributes: z.object({}).strict(),
    units: z.string().optional(),
    featureNames: z.array(z.string()).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    sized(ctx, ['series'], c.series.length, c.T * c.N * c.F, `[T, N, F] = [${c.T}, ${c.N}, ${c.F}]`);
    if (c.mask) sized(ctx, ['mask'], c.mask.length, c.T * c.N * c.F, `[T, N, F] = [${c.T}, ${c.N}, ${c.F}]`);
    if (c.timestamps) sized(ctx, ['timestamps'], c.timestamps.length, c.T, `T = ${c.T}`);
    sized(ctx, ['adjacency'], c.adjacency.length, c.N * c.N, `[N, N] = [${c.N}, ${c.N}]`);
    sized(ctx, ['nodeIds'], c.nodeIds.length, c.N, `N = ${c.N}`);
  });

const Table = z.object({ slotsPerDay: positive, N: positive, table: f64 });
const tableSized = (t: { slotsPerDay: number; N: number; table: Float64Array }, ctx: z.RefinementCtx) =>
  sized(ctx, ['table'], t.table.length, t.slotsPerDay * t.N, `[slotsPerDay, N] = [${t.slotsPerDay}, ${t.N}]`);

const Normalizer = z
  .object({
    feature: count,
    mean: z.number(),
    std: z.number().positive(),
    baseline: z
      .object({
        kind: z.enum(BASELINE_KINDS).exclude(['none']),
        cityId: z.string(),
        profile: Table.extend({ halfWindowSlots: count }).strict().superRefine(tableSized),
        persistence: z.array(z.number()).length(6),
      })
      .strict()
      .optional(),
  })
  .strict();

const HistoricalAverage = Table.extend({ cityId: z.string(), feature: count, fit: Range }).strict().superRefine(tableSized);

const Subgraph = z
  .object({ center: count, nodes: z.array(count), n: positive, adjacency: f32 })
  .strict()
  .superRefine((s, ctx) => {
    sized(ctx, ['nodes'], s.nodes.length, s.n, `n = ${s.n}`);
    sized(ctx, ['adjacency'], s.adjacency.length, s.n * s.n, `[n, n] = [${s.n}, ${s.n}]`);
  });

const SourcePrep = z
  .object({
    split: z.object({ train: Range, val: Range }).strict(),
    norm: Normalizer,
    ha: HistoricalAverage,
    blocks: z.array(z.object({ fit: Range, norm: Normalizer, train: Range.optional(), val: Range.optional() }).strict()).optional(),
  })
  .strict();

const TargetPrep = z
  .object({
    city: CitySlice,
    split: z.object({ fewShot: Range, fewShotTrain: Range, fewShotVal: Range, test: Range, kDays: positive }).strict(),
    norm: Normalizer,
    ha: HistoricalAverage,
    feature: count,
    holdout: z.object({ kind: z.enum(HOLDOUT_KINDS), train: Range, val: Range }).strict(),
  })
  .strict();

/** A region's data: every node index inside the slice, every table over the slice's nodes. */
function regionData(prep: typeof SourcePrep | typeof TargetPrep) {
  return z
    .object({ city: CitySlice, prep, sub: Subgraph, node: count, region: count, regionId: z.string() })
    .strict()
    .superRefine((d, ctx) => {
      const N = d.city.N;
      if (d.node >= N) ctx.addIssue({ code: 'custom', path: ['node'], message: `is not a node of the slice (N = ${N})` });
      if (d.sub.nodes.some((i) => i >= N)) ctx.addIssue({ code: 'custom', path: ['sub', 'nodes'], message: `names nodes outside the slice (N = ${N})` });
      const p = (d as { prep: { norm: z.output<typeof Normalizer>; ha: z.output<typeof HistoricalAverage> } }).prep;
      if (p.ha.N !== N) ctx.addIssue({ code: 'custom', path: ['prep', 'ha', 'N'], message: `is ${p.ha.N}, the slice has ${N} nodes` });
      if (p.norm.baseline && p.norm.baseline.profile.N !== N) ctx.addIssue({ code: 'custom', path: ['prep', 'norm', 'baseline', 'profile', 'N'], message: `is ${p.norm.baseline.profile.N}, the slice has ${N} nodes` });
    });
}

export const BankRegionPayload = z
  .object({ model: z.enum(MODEL_NAMES), config: TrainFields, seed: z.number().int(), init: z.enum(INIT_KINDS), shared: f32.optional(), data: regionData(SourcePrep) })
  .strict();

const Metric2 = z.object({ mae: metric, rmse: metric }).strict();

export const RegionResult = z
  .object({
    city: z.string(),
    region: count,
    regionId: z.string(),
    n: positive,
    regionSeed: z.number(),
    params: f32,
    epochsRun: count,
    bestEpoch: count,
    steps: count,
    validated: z.boolean(),
    train: Metric2,
    val: Metric2,
    haVal: Metric2,
    valCurve: z.array(metric),
    trainMs: z.number(),
    totalMs: z.number(),
  })
  .strict();

export const TransferRegionPayload = z
  .object({
    model: z.enum(MODEL_NAMES),
    finetune: FinetuneConfig,
    seed: z.number().int(),
    methods: z.array(z.enum(METHODS)).min(1),
    inits: z.object({ shared: f32, bankMean: f32, nearest: f32, generated: f32 }).strict(),
    generatedScale: z.number().min(0),
    zeroShotScale: z.number().min(0),
    data: regionData(TargetPrep),
  })
  .strict();

/** Every model-based method's model and validation score come with its predictions (they are stored together). */
export const TransferRegionResult = z
  .object({
    preds: z.partialRecord(z.enum(METHODS), f32),
    params: z.partialRecord(z.enum(MODEL_METHODS), f32),
    validation: z.partialRecord(z.enum(MODEL_METHODS), Metric2),
    warnings: z.array(z.string()),
  })
  .strict()
  .superRefine((r, ctx) => {
    for (const m of MODEL_METHODS) {
      if (r.preds[m] && !r.params[m]) ctx.addIssue({ code: 'custom', path: ['params', m], message: `is missing: "${m}" has predictions but no model` });
      if (r.params[m] && !r.preds[m]) ctx.addIssue({ code: 'custom', path: ['preds', m], message: `is missing: "${m}" has a model but no predictions` });
      if (r.params[m] && !r.validation[m]) ctx.addIssue({ code: 'custom', path: ['validation', m], message: `is missing: "${m}" has a model but no validation score` });
    }
  });

/** Every kind a cluster runs: what its payload and its result must look like. */
export const JOB_KINDS: Record<string, { payload: z.ZodType; result: z.ZodType }> = {
  [BANK_REGION_JOB]: { payload: BankRegionPayload, result: RegionResult },
  [TRANSFER_REGION_JOB]: { payload: TransferRegionPayload, result: TransferRegionResult },
};
