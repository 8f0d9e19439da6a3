/**
 * The run folder's target.json: the target city as its models see it, written when evaluation starts.
 * Node ids, interval, the value encoding fitted on the K few-shot days (normaliser and seasonal
 * baseline, exactly as evaluation used them), the split and every scored region's subgraph.
 *
 * Why a file instead of refitting from the target's data at forecast time: a user forecasting with new
 * readings often appends them to the very files the run was trained on, which moves the test period
 * and with it the few-shot days the encoding is fitted on; the models would then be fed an encoding
 * they were never trained with. With this file, forecasting, serving and export need the run folder
 * alone, and use the run's encoding whatever happens to the data later.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DailyWindow } from '../data/city.js';
import { ArtefactError, rethrowStorage } from '../util/errors.js';
import { BASELINE_KINDS, type Normalizer } from '../data/encoding.js';
import type { StepRange } from '../data/range.js';
import { regionSubgraph } from '../data/subgraph.js';
import { targetRegion, type TargetPrep } from '../train/target.js';
import { fewShotCorrectionRange, type CorrectionRange } from '../train/correction-bound.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { formatIssues } from '../util/zod-issues.js';

const Range = z.object({
  start: z.number().int(),
  end: z.number().int(),
  /** ISO time of the first step and of the last step (null when the city has no timestamps). */
  from: z.string().nullable(),
  to: z.string().nullable(),
});

const TargetFileSchema = z.object({
  format: z.literal('gpd-target'),
  version: z.literal(1),
  city: z.object({
    id: z.string(),
    intervalMinutes: z.number().positive(),
    nodeIds: z.array(z.string()),
    units: z.string().nullable(),
    feature: z.number().int().nonnegative(),
    featureName: z.string().nullable(),
    /** Whether the city's time of day came from timestamps or from step indices (step 0 = a day's first slot). */
    timestamps: z.boolean(),
    /** The daily window of a series covering part of each day (City.day), null around the clock. */
    day: z.object({ startMinutes: z.number().min(0).max(1439), steps: z.number().int().positive() }).nullable().default(null),
  }),
  kDays: z.number().int().positive(),
  /** fewShotTrain / fewShotVal: the parts fine-tuning fitted on and validated on (finetune.holdout). */
  split: z.object({ fewShot: Range, fewShotTrain: Range, fewShotVal: Range, test: Range, holdout: z.string() }),
  encoding: z.object({
    feature: z.number().int().nonnegative(),
    mean: z.number(),
    std: z.number().positive(),
    baseline: z
      .object({
        kind: z.enum(BASELINE_KINDS).exclude(['none']),
        persistence: z.array(z.number()),
        slotsPerDay: z.number().int().positive(),
        halfWindowSlots: z.number().int().nonnegative(),
        /** [slotsPerDay][N] original units. */
        profile: z.array(z.array(z.number())),
      })
      .nullable(),
  }),
  regions: z.array(
    z.object({
      region: z.number().int().nonnegative(),
      id: z.string(),
      /** City node indices: the centre first, then its neighbours. */
      nodes: z.array(z.number().int().nonnegative()),
      /** [n][n] row-normalised with self-loops, as the model was trained on it. */
      adjacency: z.array(z.array(z.number())),
      /** The few-shot days' range of corrections (train/correction-bound.ts); absent in files of older gpd versions. */
      correction: z.object({ lo: z.number(), hi: z.number() }).nullable().optional(),
    }),
  ),
});
export type TargetFileJson = z.output<typeof TargetFileSchema>;

export interface TargetRegionGraph {
  region: number;
  id: string;
  nodes: number[];
  n: number;
  adjacency: Float32Array;
  /** What forecasts' corrections are bounded by (null: nothing observed in the few-shot days, or an older target.json). */
  correction: CorrectionRange | null;
}

/** target.json read back: what forecasting needs to build a region's input window. */
export interface TargetContext {
  json: TargetFileJson;
  cityId: string;
  intervalMinutes: number;
  day?: DailyWindow;
  nodeIds: string[];
  feature: number;
  hasTimestamps: boolean;
  norm: Normalizer;
  regions: TargetRegionGraph[];
}

function rangeJson(prep: TargetPrep, r: StepRange): z.output<typeof Range> {
  const ts = prep.city.timestamps;
  const iso = (t: number) => (ts ? new Date(ts[t]!).toISOString() : null);
  return { start: r.start, end: r.end, from: iso(r.start), to: iso(r.end - 1) };
}

export function targetFileJson(prep: TargetPrep, regions: number[]): TargetFileJson {
  const { city, norm, split } = prep;
  const b = norm.baseline;
  const profile: number[][] = [];
  if (b) for (let s = 0; s < b.profile.slotsPerDay; s++) profile.push(Array.from(b.profile.table.subarray(s * city.N, (s + 1) * city.N)));
  return {
    format: 'gpd-target',
    version: 1,
    city: {
      id: city.id,
      intervalMinutes: city.intervalMinutes,
      nodeIds: [...city.nodeIds],
      units: city.units ?? null,
      feature: prep.feature,
      featureName: city.featureNames?.[prep.feature] ?? null,
      timestamps: city.timestamps !== undefined,
      day: city.day ? { ...city.day } : null,
    },
    kDays: split.kDays,
    split: {
      fewShot: rangeJson(prep, split.fewShot),
      fewShotTrain: rangeJson(prep, prep.holdout.train),
      fewShotVal: rangeJson(prep, prep.holdout.val),
      test: rangeJson(prep, split.test),
      holdout: prep.holdout.kind,
    },
    encoding: {
      feature: norm.feature,
      mean: norm.mean,
      std: norm.std,
      baseline: b ? { kind: b.kind, persistence: [...b.persistence], slotsPerDay: b.profile.slotsPerDay, halfWindowSlots: b.profile.halfWindowSlots, profile } : null,
    },
    regions: regions.map((r) => {
      const sub = regionSubgraph(city, r);
      const adjacency: number[][] = [];
      for (let a = 0; a < sub.n; a++) adjacency.push(Array.from(sub.adjacency.subarray(a * sub.n, (a + 1) * sub.n)));
      return { region: r, id: city.nodeIds[r]!, nodes: sub.nodes, adjacency, correction: fewShotCorrectionRange(targetRegion(prep, r, sub).dataset) };
    }),
  };
}

export function writeTargetFile(file: string, prep: TargetPrep, regions: number[]): void {
  writeJsonAtomic(file, targetFileJson(prep, regions));
}

/** Whether a target.json holds every region's correction range (files of older gpd versions do not). */
export function targetFileHasRanges(file: string): boolean {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { regions?: { correction?: unknown }[] };
    return Array.isArray(j.regions) && j.regions.every((r) => r.correction !== undefined);
  } catch {
    return false;
  }
}

/** How to recompute a run's target.json (it is written before evaluation, which then scores the regions again). */
const RESCORE = "delete it and the run's eval folder and rerun `gpd transfer` with the same settings";

export function readTargetFile(file: string): TargetContext {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ArtefactError(file, `${file} not found: the run was evaluated by an older gpd that kept no target encoding`, "delete the run's eval folder and rerun `gpd transfer` with the same settings");
    }
    if (!(err instanceof SyntaxError)) rethrowStorage(err, file, 'read');
    throw new ArtefactError(file, `${file} is not valid JSON (${err.message})`, RESCORE);
  }
  const parsed = TargetFileSchema.safeParse(raw);
  if (!parsed.success) {
    // The fix before the list of fields (which may be long).
    const issues = formatIssues(parsed.error, raw, TargetFileSchema).map((l) => `  ${l}`).join('\n');
    throw new ArtefactError(file, `${file} is not a target file of this gpd (written by another version?)`, `${RESCORE}:\n${issues}`);
  }
  const j = parsed.data;
  const N = j.city.nodeIds.length;
  const b = j.encoding.baseline;
  const norm: Normalizer = { feature: j.encoding.feature, mean: j.encoding.mean, std: j.encoding.std };
  if (b) {
    const table = new Float64Array(b.slotsPerDay * N);
    b.profile.forEach((row, s) => table.set(row, s * N));
    norm.baseline = { kind: b.kind, cityId: j.city.id, persistence: b.persistence, profile: { slotsPerDay: b.slotsPerDay, N, halfWindowSlots: b.halfWindowSlots, table } };
  }
  const regions = j.regions.map((r) => ({ region: r.region, id: r.id, nodes: r.nodes, n: r.nodes.length, adjacency: Float32Array.from(r.adjacency.flat()), correction: r.correction ?? null }));
  return { json: j, cityId: j.city.id, intervalMinutes: j.city.intervalMinutes, ...(j.city.day ? { day: j.city.day } : {}), nodeIds: j.city.nodeIds, feature: j.city.feature, hasTimestamps: j.city.timestamps, norm, regions };
}
