/**
 * Region jobs and their results as text plus content-addressed binary blobs, for Redis.
 *
 * JSON cannot carry typed arrays or NaN (a region without validation targets has NaN metrics), so:
 * a typed array becomes {"$bin": "<type>", "sha": "<sha256 of its bytes>", "len": <elements>} and its
 * bytes travel as a blob named by that hash (the same array in many jobs, e.g. the shared model,
 * is stored once); a non-finite number becomes {"$num": "NaN" | "Infinity" | "-Infinity"}. Decoding
 * checks every blob's length and hash, so a job runs on exactly the bytes its coordinator hashed.
 * Bytes are little-endian (every platform Node runs on).
 */
import { createHash } from 'node:crypto';

const TYPES = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u8: Uint8Array,
} as const;
type TypeName = keyof typeof TYPES;

export interface Encoded {
  json: string;
  /** Blob bytes by sha256 (hex). */
  blobs: Map<string, Uint8Array>;
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function typeName(v: ArrayBufferView): TypeName | null {
  for (const [name, ctor] of Object.entries(TYPES)) if (v instanceof ctor) return name as TypeName;
  return null;
}

export function encode(value: unknown): Encoded {
  const blobs = new Map<string, Uint8Array>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'number') return Number.isFinite(v) ? v : { $num: String(v) };
    if (ArrayBuffer.isView(v)) {
      const type = typeName(v);
      if (!type) throw new Error(`cannot encode a ${v.constructor.name} (only ${Object.keys(TYPES).join(', ')})`);
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      const sha = sha256(bytes);
      if (!blobs.has(sha)) blobs.set(sha, bytes);
      return { $bin: type, sha, len: (v as Float32Array).length };
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return { json: JSON.stringify(walk(value)), blobs };
}

/** The blob hashes an encoded value refers to (to fetch them before decoding). */
export function blobRefs(json: string): string[] {
  const refs = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.$bin === 'string' && typeof o.sha === 'string') refs.add(o.sha);
      else Object.values(o).forEach(walk);
    }
  };
  walk(JSON.parse(json));
  return [...refs];
}

/** The value back, typed arrays rebuilt from `blobs` (each checked against its hash and length). */
export function decode(json: string, blobs: Map<string, Uint8Array>): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if (typeof o.$num === 'string' && Object.keys(o).length === 1) {
      if (!['NaN', 'Infinity', '-Infinity'].includes(o.$num)) throw new Error(`bad number "${o.$num}"`);
      return Number(o.$num);
    }
    if (typeof o.$bin === 'string') {
      const ctor = TYPES[o.$bin as TypeName];
      const len = o.len;
      if (!ctor || typeof o.sha !== 'string' || typeof len !== 'number' || !Number.isInteger(len) || len < 0) throw new Error(`bad array reference ${JSON.stringify(o)}`);
      const bytes = blobs.get(o.sha);
      if (!bytes) throw new Error(`blob ${o.sha} is missing`);
      if (bytes.byteLength !== len * ctor.BYTES_PER_ELEMENT) throw new Error(`blob ${o.sha} holds ${bytes.byteLength} bytes, expected ${len} ${o.$bin} values`);
      if (sha256(bytes) !== o.sha) throw new Error(`blob ${o.sha} does not match its hash`);
      // A copy: Redis replies may sit at any offset of a shared buffer, typed arrays need alignment.
      const out = new ctor(len);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = walk(x);
    return out;
  };
  return walk(JSON.parse(json));
}

/** A result travels inside the job's return value: its blobs as base64 beside the JSON. */
export function packResult(value: unknown): { json: string; blobs: Record<string, string> } {
  const { json, blobs } = encode(value);
  return { json, blobs: Object.fromEntries([...blobs].map(([sha, b]) => [sha, Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')])) };
}

export function unpackResult(packed: { json: string; blobs: Record<string, string> }): unknown {
  return decode(packed.json, new Map(Object.entries(packed.blobs).map(([sha, b64]) => [sha, new Uint8Array(Buffer.from(b64, 'base64'))])));
}
