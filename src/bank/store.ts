/**
 * The on-disk parameter bank (format documented in docs/bank-format.md):
 *
 *   <dir>/index.json                       format, version, settings, cities, shared model, entries
 *   <dir>/regions/<city>/r<index>.safetensors   one region's flat vector ("params", F32 [P]) with its
 *                                          entry (metrics, seed, timings) as JSON in the metadata
 *   <dir>/shared.safetensors               warm init only: the jointly trained shared model
 *   <dir>/shared.checkpoint.safetensors    while the shared model trains: its last finished epoch
 *
 * The region files are the source of truth: each is written atomically when its region finishes,
 * so a killed build resumes by skipping regions whose file exists; index.json is a summary rewritten
 * from them (after every few results and at the end).
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeJsonAtomic } from '../util/atomic.js';
import { readSafetensors, writeSafetensors } from '../util/safetensors.js';
import { ArtefactError, UserError, quoteText, rethrowStorage } from '../util/errors.js';
import { checkFinite } from '../util/integrity.js';
import type { BaselineKind } from '../data/encoding.js';
import type { BankConfig } from './config.js';
import type { Metric2 } from '../train/predict.js';
import type { ModelName } from '../models/registry.js';
import { SHARED_CHECKPOINT_FILE, removeSharedCheckpoint } from './shared-checkpoint.js';

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
  /** Training windows drawn per region and epoch (null = all). Banks written before this field existed read as null. */
  maxWindowsPerEpoch: number | null;
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

/** How to fix a damaged bank file that is not a cache: the region files are, the index is not. */
const REBUILD = 'restore it, or delete the bank folder and build it again';

export function readIndex(dir: string): BankIndex {
  const p = indexPath(dir);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ArtefactError(p, `${dir} is not a parameter bank: ${p} does not exist`, `build one with \`gpd bank build --bank ${dir}\``);
    }
    rethrowStorage(err, p, 'read');
  }
  let idx: BankIndex;
  try {
    idx = JSON.parse(text) as BankIndex;
  } catch (err) {
    throw new ArtefactError(p, `${p}: not valid JSON (${(err as Error).message})`, REBUILD);
  }
  if (typeof idx !== 'object' || idx === null || idx.format !== BANK_FORMAT) throw new ArtefactError(p, `${p}: not a gpd bank index (format ${quoteText(idx?.format)})`);
  if (idx.version !== BANK_FORMAT_VERSION) {
    throw new ArtefactError(p, `${p}: bank format version ${idx.version}, this gpd reads version ${BANK_FORMAT_VERSION}`, 'rebuild the bank');
  }
  if (idx.settings && idx.settings.baseline === undefined) idx.settings.baseline = 'none';
  if (idx.settings && idx.settings.encodingFitDays === undefined) idx.settings.encodingFitDays = null;
  // Banks written before the option existed trained plain epochs.
  if (idx.settings && idx.settings.minStepsPerEpoch === undefined) idx.settings.minStepsPerEpoch = 1;
  if (idx.settings && idx.settings.maxWindowsPerEpoch === undefined) idx.settings.maxWindowsPerEpoch = null;
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
 * Create the bank folder or reopen it for resuming (the caller holds its lock). A folder holding a
 * bank built with other settings or cities is refused (resuming it would mix two different banks),
 * unless it holds no vector yet (what a build that failed before its first region leaves).
 */
export function openBank(
  dir: string,
  settings: BankSettings,
  cities: BankCity[],
  onWarning?: (message: string) => void,
): { finished: Map<string, BankEntry>; shared: SharedEntry | null } {
  ensureDir(dir);
  let shared: SharedEntry | null = null;
  let resuming = false;
  if (existsSync(indexPath(dir))) {
    const old = readIndex(dir);
    const diff = settingsDiff(old.settings, settings);
    if (JSON.stringify(old.cities) !== JSON.stringify(cities)) diff.push(`cities: ${old.cities.map((c) => c.id).join(',')} -> ${cities.map((c) => c.id).join(',')} (or their sizes)`);
    if (diff.length > 0 && bankHoldsVectors(dir)) {
      throw new ArtefactError(
        indexPath(dir),
        `${dir} holds a bank built with different settings (${diff.join('; ')})`,
        'use another bank folder, the same settings to resume it, or delete it',
      );
    }
    resuming = diff.length === 0;
    if (resuming) shared = old.shared;
  }
  if (!resuming) {
    // A checkpoint without the index that names its settings (a checkpoint counts as a vector, so a
    // folder of other settings holding one was refused above) cannot be trusted to be this build's.
    removeSharedCheckpoint(dir);
    writeIndex(dir, { format: BANK_FORMAT, version: BANK_FORMAT_VERSION, settings, cities, complete: false, shared: null, entries: [] });
  }
  removeTempFiles(dir);
  if (shared && !usableShared(dir, shared.file, settings, onWarning)) shared = null;
  return { finished: scanEntries(dir, cities, settings.layoutHash, 'remove', onWarning), shared };
}

/** Whether any vector (a region's, the shared model or its checkpoint) is stored: a folder without one holds nothing to keep. */
export function bankHoldsVectors(dir: string): boolean {
  if (existsSync(join(dir, SHARED_FILE)) || existsSync(join(dir, SHARED_CHECKPOINT_FILE))) return true;
  const regions = join(dir, 'regions');
  if (!existsSync(regions)) return false;
  return readdirSync(regions, { withFileTypes: true }).some((d) => d.isDirectory() && readdirSync(join(regions, d.name)).some((f) => f.endsWith('.safetensors')));
}

/** The stored shared model is intact (else it is removed, to be trained again: it is a cache). */
function usableShared(dir: string, file: string, settings: BankSettings, onWarning?: (message: string) => void): boolean {
  const p = join(dir, file);
  if (!existsSync(p)) return false;
  try {
    readVector(dir, file, settings.paramCount, settings.layoutHash);
    return true;
  } catch (err) {
    if (!(err instanceof ArtefactError)) throw err;
    onWarning?.(`${err.problem}: training it again`);
    rmSync(p, { force: true });
    return false;
  }
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

/** How a bank region file that is damaged gets fixed: regions are a cache of the build. */
function retrainFix(dir: string): string {
  return `rerun the build that made the bank (\`gpd bank build --bank ${dir}\` with the same settings, or the same \`gpd transfer\`) to retrain it`;
}

/**
 * The finished regions, read from their vector files and checked (checksum, finite values, the
 * region they claim). A damaged file is removed (so the region is retrained, with a warning) when
 * resuming, and an ArtefactError naming it when only reading.
 */
export function scanEntries(
  dir: string,
  cities: BankCity[],
  layoutHash: string,
  onBroken: 'remove' | 'throw' = 'throw',
  onWarning?: (message: string) => void,
): Map<string, BankEntry> {
  const found = new Map<string, BankEntry>();
  for (const c of cities) {
    for (let r = 0; r < c.regions; r++) {
      const file = regionFile(c.id, r);
      const p = join(dir, file);
      if (!existsSync(p)) continue;
      try {
        const { tensors, metadata } = readSafetensors(p);
        if (metadata['format'] !== VECTOR_FORMAT || metadata['layoutHash'] !== layoutHash || !metadata['entry']) continue;
        const entry = reviveEntry(JSON.parse(metadata['entry']) as BankEntry);
        if (entry.city !== c.id || entry.region !== r) throw new ArtefactError(p, `${p} holds ${entry.city} region ${entry.region}, not ${c.id} region ${r}`);
        checkParams(p, tensors['params']?.data as Float32Array | undefined);
        found.set(entryKey(c.id, r), entry);
      } catch (err) {
        if (!(err instanceof ArtefactError)) throw err;
        if (onBroken === 'throw') throw err.withFix(retrainFix(dir));
        onWarning?.(`${err.problem}: retraining that region`);
        rmSync(p, { force: true });
      }
    }
  }
  return found;
}

/** A stored vector must be F32 and finite (a NaN would pass for a trained region). */
function checkParams(p: string, data: Float32Array | undefined): void {
  if (!(data instanceof Float32Array)) throw new ArtefactError(p, `${p}: no F32 tensor "params"`);
  const bad = checkFinite(data, p);
  if (bad) throw new ArtefactError(p, bad);
}

export function writeRegionVector(dir: string, entry: BankEntry, params: Float32Array, layoutHash: string): void {
  const bad = checkFinite(params, `${entry.city} region ${entry.regionId}: the trained parameter vector`);
  if (bad) throw new UserError(`${bad}; training diverged and the bank does not store it: lower bank.lr and rerun (finished regions are kept)`);
  writeSafetensors(join(dir, entry.file), { params: { dtype: 'F32', shape: [params.length], data: params } }, {
    format: VECTOR_FORMAT,
    version: String(BANK_FORMAT_VERSION),
    layoutHash,
    entry: JSON.stringify(entry),
  });
}

export function readVector(dir: string, file: string, paramCount: number, layoutHash: string): Float32Array {
  const p = join(dir, file);
  try {
    const { tensors, metadata } = readSafetensors(p);
    const data = tensors['params']?.data as Float32Array | undefined;
    checkParams(p, data);
    if (data!.length !== paramCount) throw new ArtefactError(p, `${p}: vector has ${data!.length} values, the bank's layout needs ${paramCount}`);
    if (metadata['layoutHash'] !== layoutHash) throw new ArtefactError(p, `${p}: layout hash ${metadata['layoutHash']} differs from the bank's ${layoutHash}`);
    return data!;
  } catch (err) {
    throw err instanceof ArtefactError && !err.fix ? err.withFix(retrainFix(dir)) : err;
  }
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
