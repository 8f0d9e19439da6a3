/**
 * What the tables must say about the cities: which K a target's data allow (PROTOCOL.md: K = 3, also
 * 1 and 7 "where the data allow"), and which cities cover only part of each day with an inferred
 * clock (the metro cities' 18 slots). Pure functions of a City or a manifest, plus a small cache that
 * finds and loads cities by name.
 */
import { existsSync, readFileSync } from 'node:fs';
import { DataError, loadCity, targetSplit, type City } from '../../src/index.js';
import { cityManifest, cityName, ROOT } from './settings.js';

/** Why K few-shot days do not fit the target (null: they do): too few days before the test period, or no training window left. */
export function kDoesNotFit(city: City, k: number): string | null {
  try {
    targetSplit(city, k);
    return null;
  } catch (err) {
    if (err instanceof DataError) return err.message;
    throw err;
  }
}

/** A (target, K) the command did not run because the target's data do not allow that K. */
export interface SkippedK {
  target: string;
  k: number;
  reason: string;
}

export function skippedKs(targets: { name: string; city: City }[], ks: number[]): SkippedK[] {
  const out: SkippedK[] = [];
  for (const { name, city } of targets) {
    for (const k of [...new Set(ks)].sort((a, b) => a - b)) {
      const reason = kDoesNotFit(city, k);
      if (reason) out.push({ target: name, k, reason });
    }
  }
  return out;
}

/** The tables' lines for skipped K values (none when every K fits). */
export function skippedKLines(skipped: SkippedK[]): string[] {
  if (skipped.length === 0) return [];
  return ['K values the data do not allow (not run):', '', ...skipped.map((s) => `- ${s.target}, K = ${s.k}: ${s.reason}`), ''];
}

/** The `daily` section of a city manifest (data/loaders/manifest.ts), as far as the tables need it. */
export interface DailyManifest {
  start: string;
  steps: number;
  inferred?: boolean;
}

/** "its 18 daily slots are taken as hourly bins from 06:00 (inferred)": what a table that uses the city must say. */
export function dailyWindowText(daily: DailyManifest, intervalMinutes: number): string {
  const bins = intervalMinutes === 60 ? 'hourly bins' : `${intervalMinutes}-minute bins`;
  return `its ${daily.steps} daily slots are taken as ${bins} from ${daily.start}${daily.inferred ? ' (inferred)' : ''}`;
}

/**
 * One sentence per distinct daily-window text for the cities a table uses ("metro-shanghai,
 * metro-chongqing: their 18 daily slots ..."); cities around the clock add nothing.
 */
export function dailyWindowNotes(cities: string[], textOf: (city: string) => string | null): string[] {
  const byText = new Map<string, string[]>();
  for (const c of [...new Set(cities)]) {
    const text = textOf(c);
    if (text) byText.set(text, [...(byText.get(text) ?? []), c]);
  }
  return [...byText].map(([text, cs]) => `${cs.join(', ')}: ${cs.length > 1 ? text.replace(/^its /, 'their ') : text}.`);
}

/** Finds a city's manifest by name (cities/<name>.city.json, or one given on the command line) and loads it once. */
export class CityBook {
  private readonly manifests = new Map<string, string>();
  private readonly loaded = new Map<string, City>();

  constructor(extraManifests: string[] = [], private readonly root = ROOT) {
    for (const m of extraManifests) this.manifests.set(cityName(m), m);
  }

  manifestOf(name: string): string | null {
    const given = this.manifests.get(name);
    if (given) return given;
    const shared = cityManifest(name, this.root);
    return existsSync(shared) ? shared : null;
  }

  /** The loaded city, or null when no manifest of that name is known. */
  city(name: string): City | null {
    if (this.loaded.has(name)) return this.loaded.get(name)!;
    const file = this.manifestOf(name);
    if (!file) return null;
    const city = loadCity(file);
    this.loaded.set(name, city);
    return city;
  }

  /** The daily-window sentence of a city whose series covers only part of each day (null otherwise or unknown). */
  dailyText(name: string): string | null {
    const file = this.manifestOf(name);
    if (!file) return null;
    const m = JSON.parse(readFileSync(file, 'utf8')) as { intervalMinutes?: number; daily?: DailyManifest };
    return m.daily ? dailyWindowText(m.daily, m.intervalMinutes ?? 60) : null;
  }

  /** Skipped K values of the named targets (targets without a known manifest are left out). */
  skipped(targets: string[], ks: number[]): SkippedK[] {
    const known = [...new Set(targets)].flatMap((name) => {
      const city = this.city(name);
      return city ? [{ name, city }] : [];
    });
    return skippedKs(known, ks);
  }
}
