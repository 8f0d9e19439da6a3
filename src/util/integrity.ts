/**
 * Integrity checks of the artefacts gpd writes: checksums of their bytes and the finiteness of
 * parameter vectors. A vector with a NaN or an infinity is never a usable forecaster or generator,
 * so it is refused when written and when read (util/safetensors.ts verifies the checksums).
 *
 *   sha256Hex([bytes, ...])              hex digest of the concatenated chunks
 *   firstNonFinite(values)               index of the first NaN/±Infinity, or -1
 *   checkFinite(values, what)            a message naming what and where, or null
 */
import { createHash } from 'node:crypto';

export function sha256Hex(chunks: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

/** Null when every value is finite; else "<what> holds a non-finite value (NaN at index 12 of 300)". */
export function checkFinite(values: ArrayLike<number>, what: string): string | null {
  const i = firstNonFinite(values);
  return i < 0 ? null : `${what} holds a non-finite value (${String(values[i])} at index ${i} of ${values.length})`;
}
