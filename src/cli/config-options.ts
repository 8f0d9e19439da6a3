/**
 * Command-line options derived from the config schema: one `--kebab-name <value>` per field of a
 * section, with the field's description, its default and its bounds taken from the zod section
 * itself. A flag given on the command line becomes a `section.key=value` override, applied like
 * `--set` (after the config file), so the CLI, config files and the library share one parser and
 * one set of bounds. Flags that were not given leave the config file's value alone.
 */
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { ConfigError, quoteText } from '../util/errors.js';
import { formatIssues } from '../util/zod-issues.js';

interface FieldInfo {
  type?: string;
  enum?: string[];
  default?: unknown;
  description?: string;
}

export interface SectionFlags {
  /** Config path of the section ('' = the top level). */
  section: string;
  schema: z.ZodObject;
  /** Fields to leave out (e.g. a folder that has its own flag). */
  exclude?: string[];
  /** Only these fields. */
  only?: string[];
  /** Flag names that differ from the kebab-case field name. */
  rename?: Record<string, string>;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function fieldsOf(spec: SectionFlags): [string, FieldInfo][] {
  const json = z.toJSONSchema(spec.schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, FieldInfo> };
  return Object.entries(json.properties ?? {}).filter(([k]) => !(spec.exclude ?? []).includes(k) && (!spec.only || spec.only.includes(k)));
}

/** The text value of a flag as the JSON value the field expects (checked by the field's schema). */
function parseValue(flag: string, info: FieldInfo, field: z.ZodType, raw: string): unknown {
  let value: unknown = raw;
  if (info.type === 'integer' || info.type === 'number') {
    const n = Number(raw.trim());
    if (raw.trim() === '' || Number.isNaN(n)) throw new ConfigError(`--${flag} expects a number, got ${quoteText(raw)}`);
    if (!Number.isFinite(n)) throw new ConfigError(`--${flag}: ${quoteText(raw)} is out of range (a finite number is at most about 1.8e308)`);
    value = n;
  } else if (info.type === 'array' || info.type === 'object') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ConfigError(`--${flag} expects JSON, got ${quoteText(raw)}`);
    }
  }
  const r = field.safeParse(value);
  if (!r.success) throw new ConfigError(formatIssues(r.error, value, field, `--${flag}`).join('; '));
  return r.data;
}

/** Add the section's flags to `cmd`. */
export function addConfigFlags(cmd: Command, ...specs: SectionFlags[]): Command {
  for (const spec of specs) {
    for (const [key, info] of fieldsOf(spec)) {
      const flag = spec.rename?.[key] ?? kebab(key);
      const field = spec.schema.shape[key] as z.ZodType;
      const where = spec.section ? `${spec.section}.${key}` : key;
      const dflt = info.default !== undefined ? `; default ${JSON.stringify(info.default)}` : '';
      const help = `${info.description ?? key} (${where}${dflt})`;
      if (info.type === 'boolean') {
        cmd.addOption(new Option(`--${flag}`, help));
        cmd.addOption(new Option(`--no-${flag}`, `turn ${where} off`));
        continue;
      }
      const opt = new Option(`--${flag} <${info.type === 'integer' ? 'n' : info.enum ? 'name' : 'value'}>`, help);
      if (info.enum) opt.choices(info.enum);
      else opt.argParser((raw: string) => parseValue(flag, info, field, raw));
      cmd.addOption(opt);
    }
  }
  return cmd;
}

/** `section.key=json` overrides for the flags that were given (to pass to loadConfig with --set's). */
export function configOverrides(opts: Record<string, unknown>, ...specs: SectionFlags[]): string[] {
  const out: string[] = [];
  for (const spec of specs) {
    for (const [key] of fieldsOf(spec)) {
      const value = opts[camel(spec.rename?.[key] ?? kebab(key))];
      if (value === undefined) continue;
      out.push(`${spec.section ? `${spec.section}.` : ''}${key}=${JSON.stringify(value)}`);
    }
  }
  return out;
}

export function collectSet(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `-c <file>` and repeatable `--set key=value`: every command that reads the config takes both. */
export function addConfigFileOptions(cmd: Command, example = 'bank.epochs=5'): Command {
  return cmd
    .option('-c, --config <file>', 'JSON or YAML config file (see `gpd config schema`)')
    .option('--set <key=value>', `override one setting, e.g. --set ${example} (repeatable; applied after -c and the flags)`, collectSet, []);
}

/**
 * A parser for a flag that is not a config field (`--port`, `--interval`): the value is read and
 * checked exactly as a config flag's, against `field` (its bounds, its message naming the flag).
 */
export function schemaArg<T extends z.ZodType>(flag: string, field: T): (raw: string) => z.output<T> {
  const info = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as FieldInfo;
  return (raw: string) => parseValue(flag, info, field, raw) as z.output<T>;
}
