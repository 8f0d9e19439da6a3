/**
 * The `city.json` manifest: which files make up a city and how to read them. Validated with zod;
 * every error names the manifest file and the offending key path (e.g. `series.file`).
 * Relative file paths resolve against the manifest's own folder. docs/data-formats.md documents
 * every key.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { DataError } from '../city.js';

const MissingItem = z.union([z.number(), z.literal('nan')]);
const Missing = z.union([MissingItem, z.array(MissingItem).min(1)]);
const Delimiter = z.enum([',', ';', '\t', 'whitespace']);
const TimestampFormat = z.enum(['iso', 'M/D/YYYY H:MM', 'D/M/YYYY H:MM']);
const FilePath = z.string().min(1);
const Column = z.union([z.string().min(1), z.number().int().nonnegative()]);

/** How a node-indexed table lines up with the series' nodes: same size, the first N rows, or listed rows. */
const Select = z.union([z.literal('all'), z.literal('first-n'), z.strictObject({ indices: z.array(z.number().int().nonnegative()).min(1) })], {
  error: 'expected "all", "first-n" or {"indices": [row, ...]}',
});

const WideCsvSeries = z.strictObject({
  format: z.literal('wide-csv'),
  file: FilePath,
  header: z.boolean().default(true),
  delimiter: Delimiter.default(','),
  timestampColumn: Column.optional(),
  timestampFormat: TimestampFormat.default('iso'),
  /** Columns numbering each row's day and its slot in the day (e.g. a metro's "day", "slot"); not nodes. */
  dayColumn: Column.optional(),
  slotColumn: Column.optional(),
  missing: Missing.optional(),
});
const NpySeries = z.strictObject({
  format: z.enum(['npy', 'npz']),
  file: FilePath,
  key: z.string().min(1).optional(),
  missing: Missing.optional(),
});
const NpzWindowsSeries = z.strictObject({
  format: z.literal('npz-windows'),
  files: z.array(FilePath).min(1),
  key: z.string().min(1).default('y'),
  horizonIndex: z.number().int().nonnegative().default(0),
  missing: Missing.optional(),
});
const NodeLinkSeries = z.strictObject({
  format: z.literal('node-link'),
  file: FilePath,
  idKey: z.string().min(1).default('id'),
  seriesKey: z.string().min(1).default('y'),
  missing: Missing.optional(),
});
const Series = z.discriminatedUnion('format', [WideCsvSeries, NpySeries, NpzWindowsSeries, NodeLinkSeries]);

/** Distance-like weights become similarities; see docs/data-formats.md. */
const Weight = z.union(
  [
    z.enum(['raw', 'binary', 'gaussian-distance']),
    z.strictObject({
      kind: z.literal('gaussian-distance'),
      /** Kernel width in the distance unit, or a statistic of the edge distances (default 'std'). */
      sigma: z.union([z.number().positive(), z.enum(['std', 'mean', 'median'])]).default('std'),
      threshold: z.number().min(0).max(1).default(0),
    }),
  ],
  { error: 'expected "raw", "binary", "gaussian-distance" or {"kind": "gaussian-distance", "sigma": ..., "threshold": ...}' },
);
const GraphCommon = {
  select: Select.default('all'),
  weight: Weight.default('raw'),
  symmetrize: z.boolean().default(false),
};
const DenseCsvAdjacency = z.strictObject({
  format: z.literal('dense-csv'),
  file: FilePath,
  header: z.boolean().default(false),
  delimiter: Delimiter.default(','),
  ...GraphCommon,
});
const EdgeListAdjacency = z.strictObject({
  format: z.literal('edge-list'),
  file: FilePath,
  header: z.boolean().default(false),
  nodeRef: z.enum(['index', 'id']).default('index'),
  indexBase: z.number().int().nonnegative().default(0),
  ...GraphCommon,
});
const NpyAdjacency = z.strictObject({
  format: z.enum(['npy', 'npz']),
  file: FilePath,
  key: z.string().min(1).optional(),
  ...GraphCommon,
});
const NodeLinkAdjacency = z.strictObject({
  format: z.literal('node-link'),
  file: FilePath,
  idKey: z.string().min(1).default('id'),
  sourceKey: z.string().min(1).default('source'),
  targetKey: z.string().min(1).default('target'),
  /** null = unweighted links (weight 1). */
  weightKey: z.string().min(1).nullable().default('weight'),
  weight: Weight.default('raw'),
  symmetrize: z.boolean().default(false),
});
const Adjacency = z.discriminatedUnion('format', [DenseCsvAdjacency, EdgeListAdjacency, NpyAdjacency, NodeLinkAdjacency]);

const CoordKind = z.enum(['latlon', 'planar']);
const Coords = z.discriminatedUnion('format', [
  z.strictObject({
    format: z.literal('csv-columns'),
    file: FilePath,
    header: z.boolean().default(true),
    delimiter: Delimiter.default(','),
    x: Column,
    y: Column,
    kind: CoordKind,
    /** Match rows to nodes by this id column instead of by position. */
    idColumn: Column.optional(),
    select: Select.default('all'),
  }),
  z.strictObject({
    format: z.literal('node-link'),
    file: FilePath,
    idKey: z.string().min(1).default('id'),
    x: z.string().min(1),
    y: z.string().min(1),
    kind: CoordKind,
  }),
  z.strictObject({
    format: z.literal('grid'),
    /** Grid width: node i sits at row floor(i / columns), column i % columns. */
    columns: z.number().int().positive(),
  }),
]);
const Embedding = z.discriminatedUnion('format', [
  z.strictObject({
    format: z.literal('dense-csv'),
    file: FilePath,
    header: z.boolean().default(false),
    delimiter: Delimiter.default(','),
    select: Select.default('all'),
  }),
  z.strictObject({ format: z.literal('node2vec-txt'), file: FilePath, select: Select.default('all') }),
  z.strictObject({ format: z.enum(['npy', 'npz']), file: FilePath, key: z.string().min(1).optional(), select: Select.default('all') }),
]);
const Category = z.strictObject({
  format: z.literal('csv-column'),
  file: FilePath,
  header: z.boolean().default(false),
  delimiter: Delimiter.default(','),
  column: Column.default(0),
  select: Select.default('all'),
});

const Start = z.strictObject({
  /** ISO time of the first step; without a zone it is read as UTC clock time. */
  time: z.string().min(1),
  /** True when the start was inferred (e.g. from a weekly pattern) rather than stated by the data. */
  inferred: z.boolean().default(false),
  note: z.string().optional(),
});

const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a clock time HH:MM');
/** The part of each day the series covers, when not the whole day (see City.day). */
const Daily = z.strictObject({
  /** Clock time of each day's first reading. */
  start: ClockTime,
  /** Readings per day. */
  steps: z.number().int().positive(),
  /** True when the window was inferred (e.g. from the daily profile) rather than stated by the data. */
  inferred: z.boolean().default(false),
  note: z.string().optional(),
});

export const CityManifestSchema = z.strictObject({
  $schema: z.string().optional(),
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_", "-"'),
  description: z.string().optional(),
  intervalMinutes: z.number().positive(),
  units: z.string().optional(),
  featureNames: z.array(z.string().min(1)).min(1).optional(),
  start: z.union([z.string().min(1), Start]).optional(),
  daily: Daily.optional(),
  series: Series,
  adjacency: Adjacency,
  attributes: z
    .strictObject({
      coords: Coords.optional(),
      embeddings: z.record(z.string().min(1), Embedding).optional(),
      categories: z.record(z.string().min(1), Category).optional(),
    })
    .default({}),
  notes: z.string().optional(),
});

export type CityManifest = z.output<typeof CityManifestSchema>;
export type SeriesSpec = CityManifest['series'];
export type AdjacencySpec = CityManifest['adjacency'];
export type CoordsSpec = NonNullable<CityManifest['attributes']['coords']>;
export type EmbeddingSpec = z.output<typeof Embedding>;
export type CategorySpec = z.output<typeof Category>;
export type WeightSpec = z.output<typeof Weight>;

export interface LoadedManifest {
  manifest: CityManifest;
  /** Absolute path of the manifest file. */
  path: string;
  /** Resolve a path written in the manifest (relative to the manifest's folder). */
  resolvePath(p: string): string;
}

/** Key path of a zod issue as written in JSON: `attributes.embeddings.kg.select`, `series.files[1]`. */
function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(top level)';
}

function describeIssues(error: z.ZodError, file: string): string {
  const lines = error.issues.slice(0, 5).map((i) => {
    if (i.code === 'unrecognized_keys') {
      return `  ${i.keys.map((k) => keyPath([...i.path, k])).join(', ')}: unknown key (typo?)`;
    }
    if (i.code === 'invalid_union' && 'discriminator' in i && i.discriminator) {
      return `  ${keyPath(i.path)}: unknown format (${i.message})`;
    }
    if (i.code === 'invalid_type' && /received undefined/.test(i.message)) {
      return `  ${keyPath(i.path)}: required key is missing (${i.message})`;
    }
    return `  ${keyPath(i.path)}: ${i.message}`;
  });
  const more = error.issues.length > 5 ? `\n  ... and ${error.issues.length - 5} more` : '';
  return `invalid city manifest ${file}:\n${lines.join('\n')}${more}`;
}

/** Validate an already-parsed manifest object; `file` names it in errors. */
export function parseManifest(raw: unknown, file: string): CityManifest {
  const r = CityManifestSchema.safeParse(raw);
  if (!r.success) throw new DataError(describeIssues(r.error, file));
  return r.data;
}

export function readManifest(file: string): LoadedManifest {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DataError(`cannot read city manifest ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DataError(`city manifest ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const manifest = parseManifest(raw, path);
  const dir = dirname(path);
  return { manifest, path, resolvePath: (p) => (isAbsolute(p) ? p : resolve(dir, p)) };
}

/**
 * Every data file a manifest names, with its key path (`series.file`, `series.files[1]`,
 * `attributes.embeddings.kg.file`), as written and resolved against the manifest's folder.
 */
export function manifestFiles(loaded: LoadedManifest): { key: string; written: string; path: string }[] {
  const out: { key: string; written: string; path: string }[] = [];
  const visit = (v: unknown, key: string) => {
    if (Array.isArray(v)) v.forEach((x, i) => visit(x, `${key}[${i}]`));
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const at = key ? `${key}.${k}` : k;
        if ((k === 'file' && typeof x === 'string') || (k === 'files' && Array.isArray(x))) {
          for (const [i, f] of (typeof x === 'string' ? [x] : (x as string[])).entries()) {
            out.push({ key: typeof x === 'string' ? at : `${at}[${i}]`, written: f, path: loaded.resolvePath(f) });
          }
        } else visit(x, at);
      }
    }
  };
  visit({ series: loaded.manifest.series, adjacency: loaded.manifest.adjacency, attributes: loaded.manifest.attributes }, '');
  return out;
}
