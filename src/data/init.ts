/**
 * `gpd data init <folder>`: detect the folder's files (data/detect.ts), load the city through the
 * detected manifest to prove it reads, and write it as the folder's city.json, so the user edits a
 * checked manifest instead of writing one from scratch.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, type City } from './city.js';
import { loadDetectedCity, MANIFEST_FILE_NAME } from './load.js';
import { formatDetection, type CityDetection, type DetectOptions } from './detect.js';
import { writeJsonAtomic } from '../util/atomic.js';

export interface InitOptions extends DetectOptions {
  /** Replace an existing city.json. */
  force?: boolean;
}

export interface InitResult {
  file: string;
  detection: CityDetection;
  city: City;
}

export function initCityFolder(folder: string, opts: InitOptions = {}): InitResult {
  const file = join(folder, MANIFEST_FILE_NAME);
  if (existsSync(file) && !opts.force) throw new DataError(`${file} exists; pass --force to replace it (or edit it)`);
  const { detection, city, intervalKnown } = loadDetectedCity(folder, { ...opts, allowUnknownInterval: true });
  if (!intervalKnown) {
    throw new DataError(`${formatDetection(detection)}\nnothing written: the interval could not be inferred (${detection.unknown.join('; ')})`);
  }
  writeJsonAtomic(file, detection.manifest);
  return { file, detection, city };
}
