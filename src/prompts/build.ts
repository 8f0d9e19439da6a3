/**
 * High-level prompt API: fit a PromptSpec on the source cities, build per-region prompts for any
 * city from the range it may use, save/load the spec.
 *
 * Typical use (PROTOCOL.md ranges):
 *   const spec = await fitPromptSpec(sources);                         // source training parts
 *   const src = regionPrompts(source, spec, sourceSplit(source).train);
 *   const tgt = regionPrompts(target, spec, targetSplit(target, 3).fewShot);
 */
import { readFileSync } from 'node:fs';
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';
import { ArtefactError, rethrowStorage } from '../util/errors.js';
import { sourceSplit } from '../data/splits.js';
import { writeJsonAtomic } from '../util/atomic.js';
import {
  buildPrompts,
  CityPromptContext,
  COMPONENT_GROUP,
  DEFAULT_PROMPT_OPTIONS,
  parsePromptSpec,
  rawComponent,
  rawDim,
  type ComponentKind,
  type PromptComponent,
  type PromptOptions,
  type PromptSpec,
  type RawComponent,
} from './spec.js';
import { concatSamples, regionDaySamples, trainTemporalMae, type MaeConfig } from './temporal-mae.js';
import type { StepRange } from '../data/range.js';
import { maeToJson } from './temporal-mae-io.js';

export interface FitPromptOptions extends Partial<PromptOptions> {
  /** Step range per source city (same order); default: each city's source training part. */
  ranges?: StepRange[];
  /**
   * Components to use, by name ("structure", "randomWalk", "coords", "embedding:<name>",
   * "category:<name>", "profile", "fourier", "level", "subgraphFourier", "mae"). Default: every
   * structural and deterministic temporal component, plus every piece of urban knowledge that at
   * least one source city provides ("mae" only when `mae` is set).
   */
  components?: string[];
  /** Names that every city must provide (else buildPrompts fails); others are optional (zeros + presence 0). */
  required?: string[];
  /** Names to leave out of the default set. */
  exclude?: string[];
  /** Add the "dynamics" component (prompts/temporal-dynamics.ts) to the default set. */
  dynamics?: boolean;
  /** Train the temporal autoencoder and add its "mae" component (config overrides, or true for defaults). */
  mae?: boolean | Partial<MaeConfig>;
  /** Progress of autoencoder training. */
  onMaeStep?: (step: number, loss: number) => void;
}

/** Always computable: required unless the caller says otherwise. */
const ALWAYS_AVAILABLE: ComponentKind[] = ['structure', 'randomWalk', 'profile', 'fourier', 'level', 'subgraphFourier'];

function parseName(name: string): { kind: ComponentKind; attribute?: string } {
  const [kind, ...rest] = name.split(':');
  if (!(kind! in COMPONENT_GROUP)) {
    throw new Error(`unknown prompt component "${name}" (known: ${Object.keys(COMPONENT_GROUP).join(', ')}; embeddings/categories as "embedding:<name>", "category:<name>")`);
  }
  const k = kind as ComponentKind;
  const attribute = rest.join(':');
  if ((k === 'embedding' || k === 'category') !== (attribute.length > 0)) {
    throw new Error(`prompt component "${name}": ${k === 'embedding' || k === 'category' ? `write it as "${k}:<attribute name>"` : 'takes no attribute'}`);
  }
  return attribute ? { kind: k, attribute } : { kind: k };
}

function defaultComponentNames(cities: City[], withMae: boolean, withDynamics: boolean): string[] {
  const names: string[] = [...ALWAYS_AVAILABLE.filter((k) => COMPONENT_GROUP[k] === 'spatial')];
  if (cities.some((c) => c.attributes.coords)) names.push('coords');
  const emb = new Set<string>();
  const cat = new Set<string>();
  for (const c of cities) {
    for (const k of Object.keys(c.attributes.embeddings ?? {})) emb.add(k);
    for (const k of Object.keys(c.attributes.categories ?? {})) cat.add(k);
  }
  for (const k of [...emb].sort()) names.push(`embedding:${k}`);
  for (const k of [...cat].sort()) names.push(`category:${k}`);
  names.push(...ALWAYS_AVAILABLE.filter((k) => COMPONENT_GROUP[k] === 'temporal'));
  if (withDynamics) names.push('dynamics');
  if (withMae) names.push('mae');
  return names;
}

/** Sorted distinct classes of a categorical attribute over the sources that have it. */
function categoryClasses(cities: City[], attribute: string): number[] {
  const set = new Set<number>();
  for (const c of cities) for (const v of c.attributes.categories?.[attribute] ?? []) set.add(v);
  return [...set].sort((a, b) => a - b);
}

/** Per-dim mean/std over the present regions of all sources (std 1 for constant dims, so they normalise to 0). */
function fitStats(raws: { raw: RawComponent; N: number }[], dim: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(dim);
  const ss = new Float64Array(dim);
  let count = 0;
  for (const { raw, N } of raws) {
    for (let n = 0; n < N; n++) {
      if (!raw.present[n]) continue;
      count++;
      for (let d = 0; d < dim; d++) sum[d] += raw.values[n * dim + d]!;
    }
  }
  const mean = Array.from(sum, (s) => (count > 0 ? s / count : 0));
  for (const { raw, N } of raws) {
    for (let n = 0; n < N; n++) {
      if (!raw.present[n]) continue;
      for (let d = 0; d < dim; d++) ss[d] += (raw.values[n * dim + d]! - mean[d]!) ** 2;
    }
  }
  const std = Array.from(ss, (s) => {
    const v = count > 0 ? Math.sqrt(s / count) : 0;
    return v > 1e-8 ? v : 1;
  });
  return { mean, std };
}

/**
 * Fit a PromptSpec on source cities: choose components, check that dims agree across the sources,
 * train the temporal autoencoder if asked (sources only), and fit each component's normalisation
 * on the source regions' raw values.
 */
export async function fitPromptSpec(sources: City[], options: FitPromptOptions = {}): Promise<PromptSpec> {
  if (sources.length === 0) throw new DataError('fitPromptSpec: no source cities');
  const popts: PromptOptions = {
    bins: options.bins ?? DEFAULT_PROMPT_OPTIONS.bins,
    harmonics: options.harmonics ?? DEFAULT_PROMPT_OPTIONS.harmonics,
    feature: options.feature ?? DEFAULT_PROMPT_OPTIONS.feature,
    walkSteps: [...(options.walkSteps ?? DEFAULT_PROMPT_OPTIONS.walkSteps)],
  };
  if (options.ranges && options.ranges.length !== sources.length) {
    throw new Error(`fitPromptSpec: ${options.ranges.length} ranges for ${sources.length} source cities`);
  }
  const ranges = sources.map((c, i) => options.ranges?.[i] ?? sourceSplit(c).train);
  const withMae = options.mae !== undefined && options.mae !== false;
  const exclude = new Set(options.exclude ?? []);
  const names = (options.components ?? defaultComponentNames(sources, withMae, options.dynamics === true)).filter((n) => !exclude.has(n));
  if (names.length === 0) throw new Error('fitPromptSpec: no prompt components left');
  if (new Set(names).size !== names.length) throw new Error(`fitPromptSpec: duplicate component names in ${names.join(', ')}`);
  const required = new Set(options.required ?? []);
  for (const r of required) if (!names.includes(r)) throw new Error(`fitPromptSpec: required component "${r}" is not among the components (${names.join(', ')})`);

  let maeJson: PromptSpec['mae'];
  if (names.includes('mae')) {
    const cfg: Partial<MaeConfig> = { ...(typeof options.mae === 'object' ? options.mae : {}), bins: popts.bins };
    const samples = concatSamples(sources.map((c, i) => regionDaySamples(c, ranges[i]!, popts)));
    const { model } = await trainTemporalMae(samples, cfg, options.onMaeStep);
    maeJson = maeToJson(model);
  }

  const contexts = sources.map((c, i) => new CityPromptContext(c, ranges[i]!, popts, maeJson));
  const components: PromptComponent[] = [];
  for (const name of names) {
    const { kind, attribute } = parseName(name);
    const classes = kind === 'category' ? categoryClasses(sources, attribute!) : undefined;
    const probe = { name, kind, attribute, classes };
    const raws: { raw: RawComponent; N: number; city: City }[] = [];
    for (const ctx of contexts) {
      const raw = rawComponent(ctx, probe);
      if (raw) raws.push({ raw, N: ctx.city.N, city: ctx.city });
    }
    if (raws.length === 0) throw new DataError(`prompt component "${name}": no source city provides it (sources: ${sources.map((c) => c.id).join(', ')})`);
    const isRequired = options.required ? required.has(name) : ALWAYS_AVAILABLE.includes(kind) || kind === 'mae';
    if (isRequired && raws.length < sources.length) {
      const missing = sources.filter((c) => !raws.some((r) => r.city === c)).map((c) => c.id);
      throw new DataError(`prompt component "${name}" is required but source city ${missing.join(', ')} does not provide it`);
    }
    const dim = rawDim(raws[0]!.raw, raws[0]!.N);
    for (const r of raws) {
      const d = rawDim(r.raw, r.N);
      if (d !== dim) throw new DataError(`prompt component "${name}": source city ${r.city.id} has ${d} dims but ${raws[0]!.city.id} has ${dim}`);
    }
    const { mean, std } = fitStats(raws, dim);
    const c: PromptComponent = { name, kind, group: COMPONENT_GROUP[kind], dim, required: isRequired, mean, std, weight: 1 / Math.sqrt(dim) };
    if (attribute) c.attribute = attribute;
    if (classes) c.classes = classes;
    components.push(c);
  }
  const spec: PromptSpec = {
    format: 'gpd-prompt-spec',
    version: 1,
    options: popts,
    components,
    sources: sources.map((c, i) => ({ id: c.id, range: { ...ranges[i]! } })),
  };
  if (maeJson) spec.mae = maeJson;
  return spec;
}

/** Per-region spatial and temporal prompts (kept apart: conditioning strategies treat them differently). */
export function regionPrompts(city: City, spec: PromptSpec, range: StepRange): { spatial: Float32Array[]; temporal: Float32Array[] } {
  const { spatial, temporal } = buildPrompts(city, spec, range);
  return { spatial, temporal };
}

/** One region's full prompt: spatial then temporal. */
export function concatPrompt(spatial: Float32Array, temporal: Float32Array): Float32Array {
  const out = new Float32Array(spatial.length + temporal.length);
  out.set(spatial, 0);
  out.set(temporal, spatial.length);
  return out;
}

/** Full prompts of every region. */
export function concatPrompts(p: { spatial: Float32Array[]; temporal: Float32Array[] }): Float32Array[] {
  return p.spatial.map((s, i) => concatPrompt(s, p.temporal[i]!));
}

export function savePromptSpec(path: string, spec: PromptSpec): void {
  writeJsonAtomic(path, spec);
}

export function loadPromptSpec(path: string): PromptSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ArtefactError(path, `prompt spec ${path} does not exist`);
    rethrowStorage(err, path, 'read');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ArtefactError(path, `prompt spec ${path}: not valid JSON (${(err as Error).message})`);
  }
  return parsePromptSpec(value, `prompt spec ${path}`);
}
