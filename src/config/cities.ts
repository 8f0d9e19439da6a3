/** The cities a configuration names, resolved (the `data` section's sources and target). */
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';
import { resolveCities, resolveCity, syntheticDefaultsOf } from '../data/resolve.js';
import type { GpdConfig } from './schema.js';

/** `data.sources` as cities (a `synthetic` reference may name several). */
export function resolveSources(cfg: GpdConfig): City[] {
  const synth = syntheticDefaultsOf(cfg.data);
  const sources = cfg.data.sources.flatMap((r) => resolveCities(r, synth));
  if (sources.length === 0) throw new DataError('no source cities (data.sources is empty)');
  const seen = new Set<string>();
  for (const c of sources) {
    if (seen.has(c.id)) throw new DataError(`source city ${c.id} is listed twice in data.sources`);
    seen.add(c.id);
  }
  return sources;
}

/** `data.sources` and `data.target`; a target must be unseen. */
export function resolveRunCities(cfg: GpdConfig): { sources: City[]; target: City } {
  const sources = resolveSources(cfg);
  const target = resolveCity(cfg.data.target, syntheticDefaultsOf(cfg.data));
  if (sources.some((s) => s.id === target.id)) throw new DataError(`target city ${target.id} is also listed as a source; a target must be unseen`);
  return { sources, target };
}
