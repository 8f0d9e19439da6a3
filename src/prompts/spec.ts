/**
 * PromptSpec: the fixed recipe that turns any city into per-region prompt vectors of the same
 * layout. It lists components with fixed dims, whether each is required, the normalisation fitted
 * on the source prompts, and (optionally) the temporal autoencoder's weights. It is plain JSON and
 * is saved with the generator, so a target city months later gets prompts in the same space.
 *
 * Vector layout per group (spatial / temporal): for each component of that group, in spec order,
 * `dim` normalised values (times the component weight) followed by ONE presence flag (1 = the
 * region's value was computed, 0 = the city or region lacks it; then the values are exactly 0).
 */
import { z } from 'zod';
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';
import { ArtefactError } from '../util/errors.js';
import {
  categoryOneHot,
  coordFeatures,
  DEFAULT_WALK_STEPS,
  embeddingFeatures,
  randomWalkFeatures,
  structureFeatures,
  STRUCTURE_FEATURES,
  undirectedNeighbours,
} from './spatial.js';
import { maeRegionEmbeddings, type TemporalMae } from './temporal-mae.js';
import { fourierCoefficients, meanProfile, regionProfiles, relativeLevel, type CityProfiles } from './temporal-profile.js';
import { checkRange, type StepRange } from '../data/range.js';
import { maeFromJson, type TemporalMaeJson } from './temporal-mae-io.js';
import { dynamicsFeatures, DYNAMICS_NAMES } from './temporal-dynamics.js';

export type ComponentKind =
  | 'structure'
  | 'randomWalk'
  | 'coords'
  | 'embedding'
  | 'category'
  | 'profile'
  | 'fourier'
  | 'level'
  | 'subgraphFourier'
  | 'dynamics'
  | 'mae';

export type PromptGroup = 'spatial' | 'temporal';

export const COMPONENT_GROUP: Record<ComponentKind, PromptGroup> = {
  structure: 'spatial',
  randomWalk: 'spatial',
  coords: 'spatial',
  embedding: 'spatial',
  category: 'spatial',
  profile: 'temporal',
  fourier: 'temporal',
  level: 'temporal',
  subgraphFourier: 'temporal',
  dynamics: 'temporal',
  mae: 'temporal',
};

export interface PromptComponent {
  /** Unique: the kind, or kind:attribute for embeddings and categories (e.g. "embedding:kg"). */
  name: string;
  kind: ComponentKind;
  group: PromptGroup;
  /** Value dims (the presence flag adds one more). */
  dim: number;
  /** Required: a city that lacks it cannot be prompted (error). Optional: zeros + presence 0. */
  required: boolean;
  /** Embedding / category attribute name. */
  attribute?: string;
  /** Category classes known from the sources (one-hot slot each, plus a last "unknown class" slot). */
  classes?: number[];
  /** Per-dim mean/std of the raw values over the source regions that have them. */
  mean: number[];
  std: number[];
  /** Scale of the normalised values: 1/sqrt(dim) by default, so every component has a similar norm in cosine comparisons. */
  weight: number;
}

export interface PromptOptions {
  /** Time-of-day bins of the profile and of the autoencoder's day windows. */
  bins: number;
  /** Fourier harmonics of the profile summaries. */
  harmonics: number;
  /** Value channel the temporal prompt reads. */
  feature: number;
  /** Lazy random-walk steps whose return probabilities form the "randomWalk" component. */
  walkSteps: number[];
}

export const DEFAULT_PROMPT_OPTIONS: PromptOptions = { bins: 24, harmonics: 4, feature: 0, walkSteps: DEFAULT_WALK_STEPS };

export interface PromptSpec {
  format: 'gpd-prompt-spec';
  version: 1;
  options: PromptOptions;
  components: PromptComponent[];
  /** Cities and step ranges the normalisation (and the autoencoder) were fitted on. */
  sources: { id: string; range: StepRange }[];
  /** Temporal autoencoder weights, present iff a "mae" component is. */
  mae?: TemporalMaeJson;
}

/** Prompts of every region of one city. */
export interface RegionPrompts {
  spatial: Float32Array[];
  temporal: Float32Array[];
  /** Per component name: 1 where the region's value was computed. */
  presence: Record<string, Uint8Array>;
}

/** Raw (unnormalised) values of one component for a whole city; null = the city lacks it. */
export interface RawComponent {
  /** [N, dim] */
  values: Float32Array;
  /** [N] 1 where the region has a value. */
  present: Uint8Array;
}

/** Lazily computed per-city intermediates shared by several components. */
export class CityPromptContext {
  private nbrsCache?: Int32Array[];
  private profilesCache?: CityProfiles;
  private maeCache?: TemporalMae;

  constructor(
    readonly city: City,
    readonly range: StepRange,
    readonly options: PromptOptions,
    private readonly maeJson?: TemporalMaeJson,
  ) {
    checkRange(city, range);
  }

  get nbrs(): Int32Array[] {
    return (this.nbrsCache ??= undirectedNeighbours(this.city));
  }

  get profiles(): CityProfiles {
    return (this.profilesCache ??= regionProfiles(this.city, this.range, this.options));
  }

  mae(): TemporalMae | undefined {
    if (!this.maeJson) return undefined;
    return (this.maeCache ??= maeFromJson(this.maeJson, 'prompt spec temporal MAE'));
  }
}

function allPresent(N: number): Uint8Array {
  return new Uint8Array(N).fill(1);
}

/** Raw values of a component for a city, before normalisation; null when the city does not have it at all. */
export function rawComponent(ctx: CityPromptContext, comp: Pick<PromptComponent, 'kind' | 'attribute' | 'classes' | 'name'>): RawComponent | null {
  const { city, options } = ctx;
  const N = city.N;
  switch (comp.kind) {
    case 'structure':
      return { values: structureFeatures(city, ctx.nbrs), present: allPresent(N) };
    case 'randomWalk':
      return { values: randomWalkFeatures(city, options.walkSteps, ctx.nbrs), present: allPresent(N) };
    case 'coords': {
      const v = coordFeatures(city);
      return v ? { values: v, present: allPresent(N) } : null;
    }
    case 'embedding': {
      const e = embeddingFeatures(city, comp.attribute!);
      return e ? { values: e.data, present: allPresent(N) } : null;
    }
    case 'category': {
      const v = categoryOneHot(city, comp.attribute!, comp.classes ?? []);
      return v ? { values: v, present: allPresent(N) } : null;
    }
    case 'profile': {
      const p = ctx.profiles;
      return { values: p.profile, present: p.present };
    }
    case 'fourier': {
      const p = ctx.profiles;
      const D = 2 * options.harmonics;
      const values = new Float32Array(N * D);
      for (let n = 0; n < N; n++) if (p.present[n]) values.set(fourierCoefficients(p.profile, n * p.bins, p.bins, options.harmonics), n * D);
      return { values, present: p.present };
    }
    case 'level': {
      const p = ctx.profiles;
      const values = new Float32Array(N * 2);
      for (let n = 0; n < N; n++) if (p.present[n]) values.set(relativeLevel(p, n), n * 2);
      return { values, present: p.present };
    }
    case 'subgraphFourier': {
      // The neighbours' mean profile: the subgraph context the forecaster also sees. Absent for isolated regions.
      const p = ctx.profiles;
      const D = 2 * options.harmonics;
      const values = new Float32Array(N * D);
      const present = new Uint8Array(N);
      for (let n = 0; n < N; n++) {
        const m = meanProfile(p, ctx.nbrs[n]!);
        if (!m) continue;
        present[n] = 1;
        values.set(fourierCoefficients(m, 0, p.bins, options.harmonics), n * D);
      }
      return { values, present };
    }
    case 'dynamics':
      return dynamicsFeatures(city, ctx.range, options.feature, ctx.nbrs);
    case 'mae': {
      const model = ctx.mae();
      if (!model) throw new Error(`prompt component "${comp.name}" needs the spec's temporal MAE weights, which are missing`);
      const emb = maeRegionEmbeddings(model, city, ctx.range, options.feature, { profiles: ctx.profiles, nbrs: ctx.nbrs });
      const D = model.config.embedDim;
      const values = new Float32Array(N * D);
      const present = new Uint8Array(N);
      emb.forEach((e, n) => {
        if (!e) return;
        present[n] = 1;
        values.set(e, n * D);
      });
      return { values, present };
    }
  }
}

/** Value dim of a raw component, for validation against the spec. */
export function rawDim(raw: RawComponent, N: number): number {
  return raw.values.length / N;
}

/** Names of each dim of a component's values (for docs, reports and debugging). */
export function componentDimNames(c: PromptComponent, options: PromptOptions): string[] {
  const idx = (p: string, k: number) => Array.from({ length: k }, (_, i) => `${p}${i}`);
  switch (c.kind) {
    case 'structure':
      return [...STRUCTURE_FEATURES];
    case 'randomWalk':
      return options.walkSteps.map((s) => `return_p${s}`);
    case 'coords':
      return ['rel_x', 'rel_y', 'rel_radius'];
    case 'category':
      return [...(c.classes ?? []).map((k) => `class_${k}`), 'class_unknown'];
    case 'level':
      return ['rel_mean', 'log_rel_std'];
    case 'fourier':
    case 'subgraphFourier':
      return Array.from({ length: options.harmonics }, (_, k) => [`cos${k + 1}`, `sin${k + 1}`]).flat();
    case 'profile':
      return idx('bin', c.dim);
    case 'dynamics':
      return [...DYNAMICS_NAMES];
    default:
      return idx('d', c.dim);
  }
}

export interface ComponentSlot {
  name: string;
  group: PromptGroup;
  /** Offset of the first value inside its group's vector. */
  offset: number;
  dim: number;
  /** Offset of the presence flag inside its group's vector (= offset + dim). */
  flag: number;
}

/** Where each component sits in the spatial and temporal vectors. */
export function promptLayout(spec: PromptSpec): { spatialDim: number; temporalDim: number; slots: ComponentSlot[] } {
  const size: Record<PromptGroup, number> = { spatial: 0, temporal: 0 };
  const slots: ComponentSlot[] = [];
  for (const c of spec.components) {
    const offset = size[c.group];
    slots.push({ name: c.name, group: c.group, offset, dim: c.dim, flag: offset + c.dim });
    size[c.group] += c.dim + 1;
  }
  return { spatialDim: size.spatial, temporalDim: size.temporal, slots };
}

/**
 * Check a city's raw component against the spec; returns null for an allowed absence. Throws a
 * DataError naming the city and component when it cannot be built the same way.
 */
function checkRaw(city: City, c: PromptComponent, raw: RawComponent | null): RawComponent | null {
  if (!raw) {
    if (c.required) {
      throw new DataError(
        `city ${city.id}: prompt component "${c.name}" is required by the prompt spec but the city does not provide it` +
          (c.attribute ? ` (no ${c.kind} "${c.attribute}" in its attributes)` : ''),
      );
    }
    return null;
  }
  const dim = rawDim(raw, city.N);
  if (dim !== c.dim) {
    throw new DataError(`city ${city.id}: prompt component "${c.name}" has ${dim} dims in this city but the prompt spec was fitted with ${c.dim}`);
  }
  return raw;
}

/**
 * Per-region prompts of a city from the data in `range` only (a target passes its few-shot range,
 * a source its training range). Missing components become zeros with presence flag 0.
 */
export function buildPrompts(city: City, spec: PromptSpec, range: StepRange): RegionPrompts {
  if (spec.options.feature >= city.F) {
    throw new DataError(`city ${city.id}: the prompt spec reads feature ${spec.options.feature} but the city has ${city.F} feature(s)`);
  }
  const ctx = new CityPromptContext(city, range, spec.options, spec.mae);
  const layout = promptLayout(spec);
  const N = city.N;
  const spatial = Array.from({ length: N }, () => new Float32Array(layout.spatialDim));
  const temporal = Array.from({ length: N }, () => new Float32Array(layout.temporalDim));
  const presence: Record<string, Uint8Array> = {};
  spec.components.forEach((c, k) => {
    const slot = layout.slots[k]!;
    const raw = checkRaw(city, c, rawComponent(ctx, c));
    const present = raw ? raw.present.slice() : new Uint8Array(N);
    presence[c.name] = present;
    if (!raw) return;
    const out = c.group === 'spatial' ? spatial : temporal;
    for (let n = 0; n < N; n++) {
      if (!present[n]) continue;
      const v = out[n]!;
      for (let d = 0; d < c.dim; d++) v[slot.offset + d] = (c.weight * (raw.values[n * c.dim + d]! - c.mean[d]!)) / c.std[d]!;
      v[slot.flag] = 1;
    }
  });
  return { spatial, temporal, presence };
}

const stepRangeSchema = z.object({ start: z.number().int().nonnegative(), end: z.number().int().positive() });
const componentSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(['structure', 'randomWalk', 'coords', 'embedding', 'category', 'profile', 'fourier', 'level', 'subgraphFourier', 'dynamics', 'mae']),
  group: z.enum(['spatial', 'temporal']),
  dim: z.number().int().positive(),
  required: z.boolean(),
  attribute: z.string().optional(),
  classes: z.array(z.number().int()).optional(),
  mean: z.array(z.number()),
  std: z.array(z.number().positive()),
  weight: z.number().positive(),
});
const specSchema = z.object({
  format: z.literal('gpd-prompt-spec'),
  version: z.literal(1),
  options: z.object({
    bins: z.number().int().positive(),
    harmonics: z.number().int().nonnegative(),
    feature: z.number().int().nonnegative(),
    walkSteps: z.array(z.number().int().positive()),
  }),
  components: z.array(componentSchema).min(1),
  sources: z.array(z.object({ id: z.string(), range: stepRangeSchema })),
  mae: z
    .object({
      config: z.record(z.string(), z.number()),
      weights: z.record(z.string(), z.string()),
    })
    .optional(),
});

/** Validate a parsed JSON value as a PromptSpec; `where` (a file path) is named in errors. */
export function parsePromptSpec(value: unknown, where = 'prompt spec'): PromptSpec {
  const r = specSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ArtefactError(where, `${where}: invalid at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const spec = r.data as unknown as PromptSpec;
  const names = new Set<string>();
  for (const c of spec.components) {
    const at = `${where}: component "${c.name}"`;
    if (names.has(c.name)) throw new Error(`${at} appears twice`);
    names.add(c.name);
    if (c.group !== COMPONENT_GROUP[c.kind]) throw new Error(`${at}: kind ${c.kind} belongs to group ${COMPONENT_GROUP[c.kind]}, not ${c.group}`);
    if (c.mean.length !== c.dim || c.std.length !== c.dim) throw new Error(`${at}: mean/std must have ${c.dim} entries`);
    if ((c.kind === 'embedding' || c.kind === 'category') && !c.attribute) throw new Error(`${at}: needs an "attribute"`);
    if (c.kind === 'category' && c.dim !== (c.classes?.length ?? 0) + 1) throw new Error(`${at}: dim must be classes + 1`);
    if (c.kind === 'mae' && !spec.mae) throw new Error(`${at}: the spec has no "mae" weights`);
  }
  if (spec.mae) maeFromJson(spec.mae as TemporalMaeJson, `${where}: mae`);
  return spec;
}

