/**
 * The on-disk parameter bank (format documented in docs/bank-format.md):
 *
 *   <dir>/index.json                       format, version, settings, cities, shared model, entries
 *   <dir>/regions/<city>/r<index>.safetensors   one region's flat vector ("params", F32 [P]) with its
 *                                          entry (metrics, seed, timings) as JSON in the metadata
 *   <dir>/shared.safetensors               warm init only: the jointly trained shared model
 *
 * The region files are the source of truth: each is written atomically when its region finishes,
 * so a killed build resumes by skipping regions whose file exists; index.json is a summary rewritten
 * from them (after every few results and at the end).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import { decodeSafetensors, readSafetensors, writeSafetensors } from '../util/safetensors.js';
import type { BaselineKind } from '../data/encoding.js';
import type { BankConfig } from './config.js';
import type { Metric2 } from '../train/predict.js';
import type { ModelName } from '../models/registry.js';

export const BANK_FORMAT = 'gpd-bank';
export const BANK_FORMAT_VERSION = 1;
const VECTOR_FORMAT = 'gpd-bank-vector';

/**
 * Everything that determines the bank's content; a resumed build must match it exactly. The bank
 * section's training fields as resolved (bank/config.ts), plus what the build derives.
 */
export type BankSettings = Pick<BankConfig, 'model' | 'init' | 'epochs' | 'batchSize' | 'lr' | 'weightDecay' | 'patience' | 'evalEvery' | 'lossSpace' | 'minStepsPerEpoch'> & {
  layoutHash: string;
  paramCount: number;
  /** The bank's root seed, as Rng normalised it. */
  seed: number;
  /** Epochs of the shared model; null for random init (no shared model). */
  sharedEpochs: number | null;
  /** Which series channel (e.g. inflow of nyc-bike-grid). */
  feature: number;
  /**
   * The value encoding the models were trained on (data/baseline.ts); a vector is only meaningful
   * with it. Banks written before this field existed read as 'none'.
   */
  baseline: BaselineKind;
  /**
   * Days of the sliding blocks the encoding was fitted on (data/fit-blocks.ts); null = the whole
   * training part. Banks written before this field existed read as null.
   */
  encodingFitDays: number | null;
  /** Regions 0..maxRegions-1 of each city (null = all). */
  maxRegions: number | null;
};

export interface BankCity {
  id: string;
  N: number;
  T: number;
  /** Regions planned for this city (0..regions-1). */
  regions: number;
}

export interface BankEntry {
  city: string;
  /** Node index in the city. */
  region: number;
  /** Node id in the city's data. */
  regionId: string;
  /** Subgraph size (centre + 1-hop neighbours). */
  n: number;
  /** Path of the vector file, relative to the bank folder. */
  file: string;
  init: BankConfig['init'];
  /** Seed of the region's random stream. */
  seed: number;
  epochsRun: number;
  bestEpoch: number;
  steps: number;
  /** MAE/RMSE in original units, mean over the 6 horizons, of the kept parameters. */
  train: Metric2;
  val: Metric2;
  /** Historical average on the same validation windows. */
  haVal: Metric2;
  /** Validation loss before training (index 0) and after each validated epoch (for the report's curves). */
  valCurve?: number[];
  timings: { trainMs: number; totalMs: number };
}

export interface SharedEntry {
  file: string;
  epochsRun: number;
  bestEpoch: number;
  steps: number;
  /** Pooled validation MAE/RMSE over all regions of all cities (original units). */
  val: Metric2;
  timings: { trainMs: number };
}

export interface BankIndex {
  format: typeof BANK_FORMAT;
  version: number;
  settings: BankSettings;
  cities: BankCity[];
  /** True when every planned region has its vector. */
  complete: boolean;
  shared: SharedEntry | null;
  entries: BankEntry[];
}

export function indexPath(dir: string): string {
  return join(dir, 'index.json');
}

export function regionFile(city: string, region: number): string {
  // City ids are ours (manifests/generator), but keep paths portable whatever they hold.
  return join('regions', city.replace(/[^A-Za-z0-9._-]/g, '_'), `r${region}.safetensors`);
}

export const SHARED_FILE = 'shared.safetensors';

export function readIndex(dir: string): BankIndex {
  const p = indexPath(dir);
  if (!existsSync(p)) throw new Error(`${dir} is not a parameter bank: ${p} does not exist`);
  let idx: BankIndex;
  try {
    idx = JSON.parse(readFileSync(p, 'utf8')) as BankIndex;
  } catch (err) {
    throw new Error(`${p}: not valid JSON (${(err as Error).message})`);
  }
  if (idx.format !== BANK_FORMAT) throw new Error(`${p}: not a gpd bank index (format "${String(idx.format)}")`);
  if (idx.version !== BANK_FORMAT_VERSION) {
    throw new Error(`${p}: bank format version ${idx.version}, this gpd reads version ${BANK_FORMAT_VERSION}; rebuild the bank`);
  }
  if (idx.settings && idx.settings.baseline === undefined) idx.settings.baseline = 'none';
  if (idx.settings && idx.settings.encodingFitDays === undefined) idx.settings.encodingFitDays = null;
  // Banks written before the option existed trained plain epochs.
  if (idx.settings && idx.settings.minStepsPerEpoch === undefined) idx.settings.minStepsPerEpoch = 1;
  for (const e of idx.entries ?? []) reviveEntry(e);
  reviveMetric(idx.shared?.val);
  return idx;
}

/**
 * JSON has no NaN: a region without an observed validation target (NaN val metrics and val curve,
 * bank/train-region.ts) is written with nulls, in index.json and in its vector's metadata alike. Read
 * them back as the NaN they were, so every reader gets the numbers the types promise (a null compares
 * as 0: `null < x` is true).
 */
const num = (x: number | null) => (x === null ? NaN : x);
function reviveMetric(m: Metric2 | undefined): void {
  if (m) Object.assign(m, { mae: num(m.mae), rmse: num(m.rmse) });
}
function reviveEntry(e: BankEntry): BankEntry {
  reviveMetric(e.train);
  reviveMetric(e.val);
  reviveMetric(e.haVal);
  if (e.valCurve) e.valCurve = e.valCurve.map(num);
  return e;
}

function settingsDiff(a: BankSettings, b: BankSettings): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof BankSettings>;
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => `${k}: ${JSON.stringify(a[k])} -> ${JSON.stringify(b[k])}`);
}

/**
 * Create the bank folder or reopen it for resuming. A folder holding a bank built with other
 * settings or cities is refused (resuming it would mix two different banks).
 */
export function openBank(dir: string, settings: BankSettings, cities: BankCity[]): { finished: Map<string, BankEntry>; shared: SharedEntry | null } {
  mkdirSync(dir, { recursive: true });
  let shared: SharedEntry | null = null;
  if (existsSync(indexPath(dir))) {
    const old = readIndex(dir);
    const diff = settingsDiff(old.settings, settings);
    if (JSON.stringify(old.cities) !== JSON.stringify(cities)) diff.push(`cities: ${old.cities.map((c) => c.id).join(',')} -> ${cities.map((c) => c.id).join(',')} (or their sizes)`);
    if (diff.length > 0) {
      throw new Error(`${dir} holds a bank built with different settings (${diff.join('; ')}); use another output folder or delete this one`);
    }
    shared = old.shared;
  } else {
    writeIndex(dir, { format: BANK_FORMAT, version: BANK_FORMAT_VERSION, settings, cities, complete: false, shared: null, entries: [] });
  }
  removeTempFiles(dir);
  if (shared && !existsSync(join(dir, shared.file))) shared = null;
  return { finished: scanEntries(dir, cities, settings.layoutHash, 'remove'), shared };
}

/** Leftovers of atomic writes interrupted by a kill (never valid data). */
function removeTempFiles(dir: string): void {
  const visit = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.name.startsWith('.') && e.name.endsWith('.tmp')) rmSync(p, { force: true });
    }
  };
  visit(dir);
}

export function entryKey(city: string, region: number): string {
  return `${city}#${region}`;
}

/**
 * The finished regions, read from their vector files. A file that does not decode is removed (so
 * the region is retrained) when resuming, and an error when only reading.
 */
export function scanEntries(dir: string, cities: BankCity[], layoutHash: string, onBroken: 'remove' | 'throw' = 'throw'): Map<string, BankEntry> {
  const found = new Map<string, BankEntry>();
  for (const c of cities) {
    for (let r = 0; r < c.regions; r++) {
      const file = regionFile(c.id, r);
      const p = join(dir, file);
      if (!existsSync(p)) continue;
      try {
        const { metadata } = decodeSafetensors(readFileSync(p), p);
        if (metadata['format'] !== VECTOR_FORMAT || metadata['layoutHash'] !== layoutHash || !metadata['entry']) continue;
        found.set(entryKey(c.id, r), reviveEntry(JSON.parse(metadata['entry']) as BankEntry));
      } catch (err) {
        if (onBroken === 'throw') throw err;
        rmSync(p, { force: true });
      }
    }
  }
  return found;
}

export function writeRegionVector(dir: string, entry: BankEntry, params: Float32Array, layoutHash: string): void {
  writeSafetensors(join(dir, entry.file), { params: { dtype: 'F32', shape: [params.length], data: params } }, {
    format: VECTOR_FORMAT,
    version: String(BANK_FORMAT_VERSION),
    layoutHash,
    entry: JSON.stringify(entry),
  });
}

export function readVector(dir: string, file: string, paramCount: number, layoutHash: string): Float32Array {
  const p = join(dir, file);
  const { tensors, metadata } = readSafetensors(p);
  const t = tensors['params'];
  if (!t || t.dtype !== 'F32') throw new Error(`${p}: no F32 tensor "params"`);
  if (t.data.length !== paramCount) throw new Error(`${p}: vector has ${t.data.length} values, the bank's layout needs ${paramCount}`);
  if (metadata['layoutHash'] !== layoutHash) throw new Error(`${p}: layout hash ${metadata['layoutHash']} differs from the bank's ${layoutHash}`);
  return t.data as Float32Array;
}

export function writeShared(dir: string, shared: SharedEntry, params: Float32Array, layoutHash: string): void {
  writeSafetensors(join(dir, shared.file), { params: { dtype: 'F32', shape: [params.length], data: params } }, {
    format: VECTOR_FORMAT,
    version: String(BANK_FORMAT_VERSION),
    layoutHash,
    shared: JSON.stringify(shared),
  });
}

export function writeIndex(dir: string, index: BankIndex): void {
  writeJsonAtomic(indexPath(dir), index);
}

/** Entries in bank order: cities in index order, regions ascending. */
export function orderedEntries(cities: BankCity[], found: Map<string, BankEntry>): BankEntry[] {
  const out: BankEntry[] = [];
  for (const c of cities) for (let r = 0; r < c.regions; r++) {
    const e = found.get(entryKey(c.id, r));
    if (e) out.push(e);
  }
  return out;
}

export interface LoadedBank {
  dir: string;
  index: BankIndex;
  settings: BankSettings;
  /** In bank order; vectors[i] belongs to entries[i]. */
  entries: BankEntry[];
  vectors: Float32Array[];
  layout: { model: ModelName; layoutHash: string; paramCount: number };
  /** The shared model (warm-init banks). */
  shared: Float32Array | null;
  complete: boolean;
}

/** Read a bank for the diffusion stage (or inspection); the region files decide what is there. */
export function loadBank(dir: string): LoadedBank {
  const index = readIndex(dir);
  const s = index.settings;
  const entries = orderedEntries(index.cities, scanEntries(dir, index.cities, s.layoutHash));
  const vectors = entries.map((e) => readVector(dir, e.file, s.paramCount, s.layoutHash));
  const planned = index.cities.reduce((a, c) => a + c.regions, 0);
  const shared = index.shared && existsSync(join(dir, index.shared.file)) ? readVector(dir, index.shared.file, s.paramCount, s.layoutHash) : null;
  return {
    dir,
    index,
    settings: s,
    entries,
    vectors,
    layout: { model: s.model, layoutHash: s.layoutHash, paramCount: s.paramCount },
    shared,
    complete: entries.length === planned,
  };
}
