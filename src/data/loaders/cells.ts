/**
 * One cell of a text data file as a number or a time; every error names the place (`where()`) and
 * quotes the cell escaped and shortened (util/errors.ts quoteText), never raw.
 */
import { quoteText } from '../../util/errors.js';
import { DataError } from '../city.js';
import type { MissingSpec } from '../validate.js';

export type TimestampFormat = 'iso' | 'M/D/YYYY H:MM' | 'D/M/YYYY H:MM';

/** Strip one pair of surrounding double quotes (ids and headers are sometimes quoted). */
export function unquote(cell: string): string {
  const t = cell.trim();
  return t.length >= 2 && t.charCodeAt(0) === 34 && t.charCodeAt(t.length - 1) === 34 ? t.slice(1, -1) : t;
}

/** Why a cell that failed to parse is not a usable number (for the error message). */
function cellProblem(cell: string): string {
  const t = unquote(cell);
  if (t === '') return 'is empty';
  if (/^[+-]?nan$/i.test(t)) return 'is NaN';
  if (/^[+-]?inf(inity)?$/i.test(t)) return 'is not finite';
  // A number too large for a double (1e400) parses as Infinity: say so rather than "not a number".
  if (!Number.isFinite(Number(t)) && !Number.isNaN(Number(t))) return 'is out of range (beyond ±1.8e308)';
  return 'is not a number';
}

/**
 * Parse one numeric cell. Returns NaN for a cell that is declared missing (empty/NaN when
 * `missing.nan`); throws naming `where()` otherwise.
 */
export function parseNumberCell(cell: string, missing: MissingSpec | null, where: () => string): number {
  const v = Number(cell);
  // Number('') and Number('  ') are 0: only trust a 0 if the cell really holds a digit.
  if (Number.isFinite(v) && (v !== 0 || /\d/.test(cell))) return v;
  const t = unquote(cell);
  if (t !== cell) {
    const u = Number(t);
    if (Number.isFinite(u) && (u !== 0 || /\d/.test(t))) return u;
  }
  const gap = t === '' || /^[+-]?nan$/i.test(t);
  if (gap && missing?.nan) return NaN;
  const hint = gap && missing ? ' (declare "missing": "nan" in the manifest if these are gaps)' : '';
  throw new DataError(`${where()}: ${quoteText(cell)} ${cellProblem(cell)}${hint}`);
}

/**
 * Times without a zone are read as UTC clock values: what matters downstream is the local time
 * of day and weekday printed in the file, not the absolute instant.
 */
export function parseTimestamp(cell: string, format: TimestampFormat, where: () => string): number {
  const s = unquote(cell);
  let ms = NaN;
  if (format === 'iso') {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|([+-])(\d{2}):?(\d{2}))?$/.exec(s);
    if (m) {
      const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((k) => Number(m[k] ?? 0)) as [number, number, number, number, number, number];
      const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
      const offset = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) * 60_000 : 0;
      if (mo >= 1 && mo <= 12 && d >= 1 && h < 24 && mi < 60 && sec < 60) {
        ms = Date.UTC(y, mo - 1, d, h, mi, sec) + frac - offset;
        if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) ms = NaN;
      }
    }
  } else {
    const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
    if (m) {
      const [a, b] = [Number(m[1]), Number(m[2])];
      const [month, day] = format === 'M/D/YYYY H:MM' ? [a, b] : [b, a];
      const [h, min, sec] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
      if (month >= 1 && month <= 12 && day >= 1 && day <= 31 && h < 24 && min < 60 && sec < 60) {
        ms = Date.UTC(Number(m[3]), month - 1, day, h, min, sec);
        // Date.UTC rolls 2/31 over into March: reject rather than shift silently.
        if (new Date(ms).getUTCDate() !== day) ms = NaN;
      }
    }
  }
  if (!Number.isFinite(ms)) throw new DataError(`${where()}: ${quoteText(cell)} is not ${format === 'iso' ? 'an ISO 8601' : `a ${format}`} timestamp`);
  return ms;
}
