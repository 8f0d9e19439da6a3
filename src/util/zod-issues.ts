/**
 * Zod issues as one line each that names the field, says what it must be and what it got
 * ("bank.groupSize must be a positive integer, got 0"), for config files, `--set`, CLI flags and
 * library options alike.
 */
import type { z } from 'zod';
import { quoteText } from './errors.js';

type Issue = z.core.$ZodIssue;

/** The schema of the field at `path` (through objects, defaults, optionals), if it can be found. */
function fieldAt(schema: z.ZodType | undefined, path: PropertyKey[]): z.ZodType | undefined {
  let s = schema as unknown as { def?: { type: string; innerType?: unknown; shape?: Record<string, unknown>; element?: unknown } } | undefined;
  const unwrap = () => {
    while (s?.def && (s.def.type === 'default' || s.def.type === 'optional' || s.def.type === 'nullable') && s.def.innerType) s = s.def.innerType as typeof s;
  };
  unwrap();
  for (const key of path) {
    if (!s?.def) return undefined;
    if (s.def.type === 'object') s = s.def.shape?.[String(key)] as typeof s;
    else if (s.def.type === 'array') s = s.def.element as typeof s;
    else return undefined;
    unwrap();
  }
  return s as unknown as z.ZodType | undefined;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v = input;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** At most 80 characters of a value, control characters escaped (util/errors.ts quoteText). */
export const quoteValue = quoteText;

function what(issue: Issue, field: z.ZodType | undefined): string {
  const isInt = (field as unknown as { isInt?: boolean } | undefined)?.isInt === true;
  switch (issue.code) {
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'number') {
        if (min === 0 && !issue.inclusive) return isInt ? 'must be a positive integer' : 'must be a positive number';
        return `must be ${isInt ? 'an integer ' : ''}${issue.inclusive ? '>=' : '>'} ${min}`;
      }
      if (issue.origin === 'string') return min <= 1 ? 'must not be empty' : `must have at least ${min} characters`;
      return `must have at least ${min} items`;
    }
    case 'too_big':
      return issue.origin === 'number' ? `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}` : `must have at most ${String(issue.maximum)} items`;
    case 'invalid_type':
      if (issue.expected === 'int') return 'must be an integer';
      return `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((x) => JSON.stringify(x)).join(', ')}`;
    case 'unrecognized_keys':
      return 'unknown key';
    default:
      return issue.message;
  }
}

/** One line per issue; `prefix` is prepended to every path (e.g. "bank."). */
export function formatIssues(error: z.ZodError, input: unknown, schema?: z.ZodType, prefix = ''): string[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path;
    const name = (p: PropertyKey[]) => prefix + p.map(String).join('.');
    // Name each unknown key in full (bank.epoch), not just its section.
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${name([...path, k])}: unknown key`);
    const got = valueAt(input, path);
    // YAML and JSON read 1e400 as Infinity: out of range, not "not a number".
    if (typeof got === 'number' && !Number.isFinite(got)) return [`${name(path)} is out of range, got ${String(got)}`];
    const gotText = got === undefined ? (issue.code === 'invalid_type' ? ', but it is missing' : '') : `, got ${quoteValue(got)}`;
    return [`${path.length || prefix ? name(path) : '(root)'} ${what(issue, fieldAt(schema, path))}${gotText}`];
  });
}
