/**
 * Reader/writer for the safetensors format (written from the public format description):
 *
 *   [8 bytes]  N, unsigned 64-bit little-endian: length of the JSON header
 *   [N bytes]  UTF-8 JSON: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
 *                            "__metadata__": { "<key>": "<string value>" } }  (optional metadata)
 *              padded with trailing spaces so the data buffer starts 8-byte aligned
 *   [rest]     the byte buffer; offsets are relative to its start, values little-endian, row-major
 *
 * We use it for parameter banks and generator checkpoints because it is a plain, documented,
 * language-neutral container (PyTorch/numpy users can open our banks directly). Our files carry the
 * sha256 of the data buffer as metadata "sha256"; decoding verifies it when present, so a damaged or
 * edited file is caught (files from other tools have none and are read as they are). Every decode
 * error is an ArtefactError naming the file.
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from './atomic.js';
import { ArtefactError, quoteText, rethrowStorage } from './errors.js';
import { sha256Hex } from './integrity.js';

/** Metadata key of the data buffer's sha256 (hex), written by writeSafetensors and verified on every decode. */
export const CHECKSUM_KEY = 'sha256';

export type SafeDtype = 'F32' | 'F64' | 'I32' | 'U8' | 'I64';

export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array;
}

const BYTES_PER_ELEMENT: Record<SafeDtype, number> = { F64: 8, I64: 8, F32: 4, I32: 4, U8: 1 };

/** Dtypes other tools write that we recognise but do not hold (named in the error so users know why). */
const KNOWN_UNSUPPORTED = new Set(['F16', 'BF16', 'I8', 'I16', 'U16', 'U32', 'U64', 'BOOL', 'F8_E4M3', 'F8_E5M2']);

/** The safetensors reference implementation refuses headers above 100 MB; so do we (guards against garbage). */
const MAX_HEADER_BYTES = 100_000_000;

if (endianness() !== 'LE') {
  // Typed arrays use the platform byte order; every platform Node 20 ships on is little-endian.
  throw new Error('safetensors: this implementation needs a little-endian platform');
}

const ARRAY_TYPES = { F32: Float32Array, F64: Float64Array, I32: Int32Array, U8: Uint8Array, I64: BigInt64Array } as const;

function checkShape(shape: unknown, where: string, fail: (message: string) => Error = (m) => new Error(m)): number {
  if (!Array.isArray(shape)) throw fail(`${where}: "shape" must be an array of non-negative integers`);
  let count = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw fail(`${where}: "shape" must be an array of non-negative integers, got ${quoteText(shape)}`);
    }
    count *= d;
  }
  return count;
}

/**
 * The order of the tensors in the data buffer: wider dtypes first (stable within a width) so every
 * tensor starts naturally aligned; the buffer may not contain holes, so alignment has to come from
 * the order.
 */
function dataOrder(tensors: Record<string, SafeTensor>): string[] {
  return Object.keys(tensors)
    .map((name, i) => ({ name, i, width: BYTES_PER_ELEMENT[tensors[name]!.dtype] }))
    .sort((a, b) => b.width - a.width || a.i - b.i)
    .map((t) => t.name);
}

const bytesOf = (d: SafeTensor['data']) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** Serialise tensors (+ optional string metadata) to safetensors bytes. */
export function encodeSafetensors(tensors: Record<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    const t = tensors[name]!;
    const where = `safetensors: tensor "${name}"`;
    if (!(t.dtype in BYTES_PER_ELEMENT)) throw new Error(`${where}: unsupported dtype ${String(t.dtype)}`);
    const count = checkShape(t.shape, where);
    if (!(t.data instanceof ARRAY_TYPES[t.dtype])) {
      throw new Error(`${where}: dtype ${t.dtype} needs a ${ARRAY_TYPES[t.dtype].name}, got ${t.data?.constructor?.name}`);
    }
    if (t.data.length !== count) {
      throw new Error(`${where}: shape [${t.shape.join(', ')}] holds ${count} values but data has ${t.data.length}`);
    }
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors: metadata "${k}" must be a string, got ${typeof v}`);
    }
  }
  const ordered = dataOrder(tensors).map((name) => ({ name }));

  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header['__metadata__'] = { ...metadata };
  let offset = 0;
  for (const { name } of ordered) {
    const t = tensors[name]!;
    const nbytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  const base = 8 + headerLen;
  for (const { name } of ordered) {
    const t = tensors[name]!;
    const [begin] = (header[name] as { data_offsets: [number, number] }).data_offsets;
    out.set(bytesOf(t.data), base + begin);
  }
  return out;
}

/** Parse safetensors bytes; `sourceName` (a file path) is named in every error. */
export function decodeSafetensors(
  bytes: Uint8Array,
  sourceName = '<buffer>',
): { tensors: Record<string, SafeTensor>; metadata: Record<string, string> } {
  const src = `safetensors file ${sourceName}`;
  const bad = (message: string) => new ArtefactError(sourceName, message);
  if (bytes.length < 8) throw bad(`${src}: only ${bytes.length} bytes, too short for the 8-byte header length`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw bad(`${src}: header length ${n64} is implausibly large (corrupt file?)`);
  const n = Number(n64);
  if (8 + n > bytes.length) throw bad(`${src}: header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    throw bad(`${src}: header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad(`${src}: header must be a JSON object`);
  const bufferStart = 8 + n;
  const bufferLen = bytes.length - bufferStart;

  const metadata: Record<string, string> = {};
  const tensors: Record<string, SafeTensor> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(`${src}: "__metadata__" must be an object of strings`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw bad(`${src}: metadata "${k}" must be a string, got ${quoteText(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${src}, tensor "${name}"`;
    if (typeof raw !== 'object' || raw === null) throw bad(`${where}: entry must be an object`);
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info.dtype !== 'string') throw bad(`${where}: missing "dtype"`);
    if (!(info.dtype in BYTES_PER_ELEMENT)) {
      const why = KNOWN_UNSUPPORTED.has(info.dtype) ? 'not supported by gpd' : 'unknown';
      throw bad(`${where}: dtype ${info.dtype} is ${why} (supported: F32, F64, I32, I64, U8)`);
    }
    const dtype = info.dtype as SafeDtype;
    const count = checkShape(info.shape, where, bad);
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
      throw bad(`${where}: "data_offsets" must be [begin, end] non-negative integers, got ${quoteText(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) throw bad(`${where}: data_offsets [${begin}, ${end}] end before begin`);
    if (end > bufferLen) throw bad(`${where}: data_offsets [${begin}, ${end}] run past the data buffer (${bufferLen} bytes)`);
    const expected = count * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== expected) {
      throw bad(`${where}: ${dtype} shape [${(info.shape as number[]).join(', ')}] needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    spans.push({ name, begin, end });
    // Copy into a fresh buffer: the caller owns the data, and the copy is always aligned.
    // (An explicit copy: on a Node Buffer, .slice() is a view into a possibly shared pool.)
    const chunk = new Uint8Array(end - begin);
    chunk.set(bytes.subarray(bufferStart + begin, bufferStart + end));
    const data =
      dtype === 'F32' ? new Float32Array(chunk.buffer)
      : dtype === 'F64' ? new Float64Array(chunk.buffer)
      : dtype === 'I32' ? new Int32Array(chunk.buffer)
      : dtype === 'I64' ? new BigInt64Array(chunk.buffer)
      : chunk;
    tensors[name] = { dtype, shape: [...(info.shape as number[])], data };
  }
  // The format requires the tensors to tile the buffer exactly: no overlap, no holes, nothing trailing.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of spans) {
    if (s.begin < cursor) throw bad(`${src}, tensor "${s.name}": data_offsets [${s.begin}, ${s.end}] overlap the previous tensor (ends at ${cursor})`);
    if (s.begin > cursor) throw bad(`${src}, tensor "${s.name}": hole in the data buffer between bytes ${cursor} and ${s.begin}`);
    cursor = s.end;
  }
  if (cursor !== bufferLen) throw bad(`${src}: data buffer has ${bufferLen} bytes but tensors cover only ${cursor}`);
  const sum = metadata[CHECKSUM_KEY];
  if (sum !== undefined && /^[0-9a-f]{64}$/.test(sum) && sha256Hex([bytes.subarray(bufferStart)]) !== sum) {
    throw bad(`${src}: checksum mismatch (the tensor data were changed or damaged after writing)`);
  }
  return { tensors, metadata };
}

/**
 * Write a safetensors file atomically (readers never see a half-written file), with the sha256 of
 * its data buffer in the metadata (`sha256`), which every read verifies.
 */
export function writeSafetensors(path: string, tensors: Record<string, SafeTensor>, metadata?: Record<string, string>): void {
  const order = dataOrder(tensors);
  const sum = sha256Hex(order.map((name) => bytesOf(tensors[name]!.data)));
  writeFileAtomic(path, encodeSafetensors(tensors, { ...metadata, [CHECKSUM_KEY]: sum }));
}

/**
 * Read and check a safetensors file (structure and, when present, its checksum). A missing or
 * damaged file is an ArtefactError naming it; callers that know how the file is made re-wrap it
 * with the fix (`err.withFix('delete it and rerun ...')`).
 */
export function readSafetensors(path: string): { tensors: Record<string, SafeTensor>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ArtefactError(path, `${path} does not exist`);
    rethrowStorage(err, path, 'read');
  }
  return decodeSafetensors(bytes, path);
}
