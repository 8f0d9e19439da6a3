/**
 * Turns the city references users write (in configs and on the command line) into Cities:
 *   - `synthetic:<id>`  one city of the embedded seeded generator (e.g. synthetic:synth-a)
 *   - `synthetic`       every city of the embedded generator
 *   - a path            a `*.city.json` manifest, a folder holding a `city.json`, or a folder of
 *                       data files without one (detected: data/detect.ts)
 */
import { z } from 'zod';
import type { City } from './city.js';
import { DataError } from './city.js';
import { loadCity, type LoadOptions } from './load.js';
import { generateSyntheticCities } from './synthetic.js';

export interface SyntheticDefaults {
  seed: number;
  nodes: number;
  days: number;
  cities?: number;
}

/** The embedded generator's fields of the `data` config section. */
export const SyntheticConfig = z.object({
  /** Seed of the embedded synthetic generator (used by `synthetic:` references). */
  syntheticSeed: z.number().int().default(7).describe('seed of the embedded synthetic generator'),
  /** Regions per synthetic city. */
  syntheticNodes: z.number().int().positive().default(24).describe('regions per synthetic city'),
  /** Days per synthetic city. */
  syntheticDays: z.number().int().positive().default(14).describe('days per synthetic city'),
});
export type SyntheticConfig = z.output<typeof SyntheticConfig>;

/** The generator's settings from the config fields (4 cities: synth-a .. synth-d). */
export function syntheticDefaultsOf(c: SyntheticConfig): SyntheticDefaults {
  return { seed: c.syntheticSeed, nodes: c.syntheticNodes, days: c.syntheticDays, cities: 4 };
}

export const DEFAULT_SYNTHETIC: SyntheticDefaults = syntheticDefaultsOf(SyntheticConfig.parse({}));

const syntheticCache = new Map<string, City[]>();

export function syntheticCities(opts: SyntheticDefaults = DEFAULT_SYNTHETIC): City[] {
  const key = JSON.stringify(opts);
  let cities = syntheticCache.get(key);
  if (!cities) {
    cities = generateSyntheticCities({ seed: opts.seed, nodes: opts.nodes, days: opts.days, cities: opts.cities ?? 4 });
    syntheticCache.set(key, cities);
  }
  return cities;
}

export function isSyntheticRef(ref: string): boolean {
  return ref === 'synthetic' || ref.startsWith('synthetic:');
}

/** Resolve one reference; `synthetic` (all generator cities) yields several. */
export function resolveCities(ref: string, synth: SyntheticDefaults = DEFAULT_SYNTHETIC, load: LoadOptions = {}): City[] {
  if (isSyntheticRef(ref)) {
    const all = syntheticCities(synth);
    if (ref === 'synthetic') return all;
    const id = ref.slice('synthetic:'.length);
    const city = all.find((c) => c.id === id);
    if (!city) {
      throw new DataError(`unknown synthetic city "${id}" in "${ref}"; the generator makes: ${all.map((c) => c.id).join(', ')}`);
    }
    return [city];
  }
  return [loadCity(ref, load)];
}

export function resolveCity(ref: string, synth: SyntheticDefaults = DEFAULT_SYNTHETIC, load: LoadOptions = {}): City {
  const cities = resolveCities(ref, synth, load);
  if (cities.length !== 1) throw new DataError(`"${ref}" names ${cities.length} cities where one is expected`);
  return cities[0]!;
}
