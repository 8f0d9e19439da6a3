import { readFileSync, existsSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { GpdConfig } from './schema.js';
import { formatIssues, quoteValue } from '../util/zod-issues.js';
import { ConfigError, storageError } from '../util/errors.js';

export { ConfigError };

/** Parse a `key.path=value` override; the value is JSON when it parses as JSON, else a string. */
export function parseOverride(spec: string): { path: string[]; value: unknown } {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set expects key=value (e.g. bank.epochs=5), got "${spec}"`);
  const path = spec.slice(0, eq).trim().split('.');
  if (path.some((p) => p === '')) throw new ConfigError(`--set: bad key "${spec.slice(0, eq)}"`);
  const raw = spec.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    // A plain string unless it was meant as JSON: a list or a mapping that does not parse is a mistake.
    if (/^\s*[[{]/.test(raw)) throw new ConfigError(`--set ${path.join('.')}: ${quoteValue(raw)} is not valid JSON (${(err as Error).message})`);
  }
  // JSON reads 1e400 as Infinity, which no setting accepts: name it before the schema calls it "not a number".
  if (hasNonFinite(value)) throw new ConfigError(`--set ${path.join('.')}: ${quoteValue(raw)} is out of range (a finite number is at most about 1.8e308)`);
  return { path, value };
}

function hasNonFinite(v: unknown): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (Array.isArray(v)) return v.some(hasNonFinite);
  return typeof v === 'object' && v !== null && Object.values(v).some(hasNonFinite);
}

/** The text of a config file; a missing path, a folder or an unreadable file is named. */
function readConfigText(file: string): string {
  if (!existsSync(file)) throw new ConfigError(`config file not found: ${file}`);
  if (statSync(file).isDirectory()) throw new ConfigError(`-c ${file}: it is a folder; -c takes a JSON or YAML config file (see \`gpd config schema\`)`);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw storageError(err, file, 'read the config file') ?? err;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new ConfigError(`--set ${path.join('.')}: "${key}" is not a section`);
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Read a JSON or YAML config file (or none), apply `--set` overrides, validate, fill defaults. */
export function loadConfig(file: string | undefined, overrides: string[] = []): GpdConfig {
  let raw: Record<string, unknown> = {};
  const source = file ?? 'defaults';
  if (file) {
    const text = readConfigText(file);
    try {
      const parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
      raw = (parsed ?? {}) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`cannot parse config ${file}: ${(e as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config ${file}: the top level must be a mapping`);
  }
  for (const o of overrides) {
    const { path, value } = parseOverride(o);
    setPath(raw, path, value);
  }
  const result = GpdConfig.safeParse(raw);
  if (!result.success) {
    const where = source + (overrides.length ? ' + --set' : '');
    throw new ConfigError(`invalid config (${where}):\n${formatIssues(result.error, raw, GpdConfig).map((l) => `  ${l}`).join('\n')}`);
  }
  return result.data;
}
