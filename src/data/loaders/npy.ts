/**
 * NumPy .npy / .npz reading (and a small .npy writer, for fixtures and exports), written from the
 * format spec: magic "\x93NUMPY", version byte pair (1.0: u16 header length; 2.0/3.0: u32; 3.0
 * header is UTF-8), then a Python-literal dict {'descr', 'fortran_order', 'shape'}, then the raw
 * C-order data. An .npz is a zip of .npy members (stored or deflated), unzipped with fflate.
 * No pickles: object arrays are rejected.
 */
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { DataError } from '../city.js';

export type NumericArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

export interface NpyArray {
  /** The descr as written in the file, e.g. '<f8'. */
  descr: string;
  shape: number[];
  /** C-order values. int64/uint64 come back as Float64Array (exact up to 2^53), bool as Uint8Array, f2 as Float32Array. */
  data: NumericArray;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface Header {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

function parseHeaderDict(text: string, where: string): Header {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text);
  if (!descr) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) throw new DataError(`${where}: structured (record) dtypes are not supported; save a plain numeric array`);
    throw new DataError(`${where}: .npy header has no 'descr': ${text.trim()}`);
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (!fortran) throw new DataError(`${where}: .npy header has no 'fortran_order': ${text.trim()}`);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shape) throw new DataError(`${where}: .npy header has no 'shape': ${text.trim()}`);
  const dims = shape[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new DataError(`${where}: bad shape (${shape[1]}) in .npy header`);
  return { descr: descr[1]!, fortranOrder: fortran[1] === 'True', shape: dims };
}

/** Parse one .npy file's bytes; `where` names it (file, or file + npz member) in errors. */
export function parseNpy(bytes: Uint8Array, where: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new DataError(`${where}: not a NumPy .npy file (bad magic bytes)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DataError(`${where}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new DataError(`${where}: unsupported .npy format version ${major}.${bytes[7]} (1, 2 and 3 are supported)`);
  }
  if (headerStart + headerLen > bytes.length) throw new DataError(`${where}: truncated .npy header`);
  const headerBytes = bytes.subarray(headerStart, headerStart + headerLen);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes);
  const h = parseHeaderDict(text, where);
  if (h.fortranOrder) {
    throw new DataError(`${where}: array is stored in Fortran order (fortran_order: True); save it with np.ascontiguousarray(a) first`);
  }
  const count = h.shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  return { descr: h.descr, shape: h.shape, data: decodeData(bytes, dataStart, count, h.descr, where) };
}

function decodeData(bytes: Uint8Array, start: number, count: number, descr: string, where: string): NumericArray {
  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  if (!m) {
    const why = descr.includes('O') ? 'object arrays (pickles) are not supported' : 'only numeric/bool dtypes are supported';
    throw new DataError(`${where}: dtype '${descr}': ${why}`);
  }
  const [, order, kind, sizeText] = m;
  const size = Number(sizeText);
  const little = order !== '>';
  const need = count * size;
  if (bytes.length - start < need) throw new DataError(`${where}: data truncated (${bytes.length - start} bytes, shape needs ${need})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, need);
  const key = `${kind}${size}`;
  const fill = <T extends NumericArray>(out: T, get: (o: number) => number): T => {
    for (let i = 0; i < count; i++) out[i] = get(i * size);
    return out;
  };
  switch (key) {
    case 'f8':
      return fill(new Float64Array(count), (o) => view.getFloat64(o, little));
    case 'f4':
      return fill(new Float32Array(count), (o) => view.getFloat32(o, little));
    case 'f2':
      return fill(new Float32Array(count), (o) => halfToFloat(view.getUint16(o, little)));
    case 'i8':
    case 'u8':
      return fill(new Float64Array(count), (o) => {
        const v = kind === 'i' ? view.getBigInt64(o, little) : view.getBigUint64(o, little);
        if (v > 9007199254740991n || v < -9007199254740991n) throw new DataError(`${where}: 64-bit integer ${v} at element ${o / 8} is beyond 2^53`);
        return Number(v);
      });
    case 'i4':
      return fill(new Int32Array(count), (o) => view.getInt32(o, little));
    case 'u4':
      return fill(new Uint32Array(count), (o) => view.getUint32(o, little));
    case 'i2':
      return fill(new Int16Array(count), (o) => view.getInt16(o, little));
    case 'u2':
      return fill(new Uint16Array(count), (o) => view.getUint16(o, little));
    case 'i1':
      return fill(new Int8Array(count), (o) => view.getInt8(o));
    case 'u1':
    case 'b1':
      return fill(new Uint8Array(count), (o) => view.getUint8(o));
    default:
      throw new DataError(`${where}: unsupported dtype '${descr}'`);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new DataError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

export function readNpy(file: string): NpyArray {
  return parseNpy(readBytes(file), file);
}

/**
 * Members of an .npz by name (without ".npy"). `keys` limits decompression to what is needed
 * (nyc-bike-grid's unused `x` windows are 33 MB inflated).
 */
export function readNpz(file: string, keys?: string[]): Map<string, NpyArray> {
  const bytes = readBytes(file);
  const wanted = keys ? new Set(keys.map((k) => `${k}.npy`)) : null;
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: (f) => (wanted ? wanted.has(f.name) : true) });
  } catch (err) {
    throw new DataError(`${file}: not a readable .npz (zip) archive: ${(err as Error).message}`);
  }
  const out = new Map<string, NpyArray>();
  for (const [name, data] of Object.entries(members)) {
    if (!name.endsWith('.npy')) continue;
    const key = name.slice(0, -4);
    out.set(key, parseNpy(data, `${file} [${key}]`));
  }
  if (keys) {
    const missing = keys.filter((k) => !out.has(k));
    if (missing.length > 0) {
      const available = listNpzKeys(bytes);
      throw new DataError(`${file}: no array named "${missing[0]}" (arrays in the file: ${available.join(', ') || 'none'})`);
    }
  }
  return out;
}

/** Member names from the zip central directory, without inflating anything. */
function listNpzKeys(bytes: Uint8Array): string[] {
  const names: string[] = [];
  unzipSync(bytes, {
    filter: (f) => {
      if (f.name.endsWith('.npy')) names.push(f.name.slice(0, -4));
      return false;
    },
  });
  return names;
}

/** Load one array from a .npy, or from an .npz member `key`. */
export function readArray(file: string, key?: string): NpyArray {
  if (file.toLowerCase().endsWith('.npz')) {
    if (!key) {
      const keys = listNpzKeys(readBytes(file));
      if (keys.length !== 1) throw new DataError(`${file}: .npz holds ${keys.length} arrays (${keys.join(', ')}); name one with "key"`);
      return readNpz(file, keys).get(keys[0]!)!;
    }
    return readNpz(file, [key]).get(key)!;
  }
  return readNpy(file);
}

const DESCR_OF: Array<[new (n: number) => NumericArray, string]> = [
  [Float64Array, '<f8'],
  [Float32Array, '<f4'],
  [Int32Array, '<i4'],
  [Uint32Array, '<u4'],
  [Int16Array, '<i2'],
  [Uint16Array, '<u2'],
  [Int8Array, '|i1'],
  [Uint8Array, '|u1'],
];

/**
 * Encode a C-order array as a version 1.0 .npy (little-endian). `descr`/`fortranOrder` may be
 * overridden to produce deliberately odd files in tests.
 */
export function encodeNpy(data: NumericArray, shape: number[], opts: { descr?: string; fortranOrder?: boolean } = {}): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape [${shape}] needs ${count} values, got ${data.length}`);
  const descr = opts.descr ?? DESCR_OF.find(([ctor]) => data instanceof ctor)![1];
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${opts.fortranOrder ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  // Pad so the data starts on a 64-byte boundary, as NumPy does.
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
