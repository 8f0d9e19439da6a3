import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ArtefactError } from '../../src/util/errors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors, type SafeTensor } from '../../src/util/safetensors.js';
import { Rng } from '../../src/util/prng.js';

/** Build a file by hand: u64 LE header length, header text, then raw bytes. */
function handFile(header: string, data: number[]): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test('golden bytes: tiny file derived by hand from the format description', () => {
  const bytes = encodeSafetensors(
    {
      b: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      a: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
    },
    { k: 'v' },
  );
  // Header: metadata first, then tensors widest dtype first (F32 "a" before U8 "b") so F32 data starts aligned.
  const headerText = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}';
  // 132 characters, padded with 4 spaces to 136 (multiple of 8).
  assert.equal(headerText.length, 132);
  const expected = [
    136, 0, 0, 0, 0, 0, 0, 0, // u64 LE header length
    ...Array.from(headerText, (c) => c.charCodeAt(0)),
    0x20, 0x20, 0x20, 0x20,
    0x00, 0x00, 0x80, 0x3f, // 1.0f  = 0x3F800000 little-endian
    0x00, 0x00, 0x00, 0xc0, // -2.0f = 0xC0000000 little-endian
    1, 2, 3,
  ];
  assert.equal(expected.length, 155);
  assert.deepEqual(Array.from(bytes), expected);

  const back = decodeSafetensors(bytes);
  assert.deepEqual(back.metadata, { k: 'v' });
  assert.deepEqual(Array.from(back.tensors['a']!.data as Float32Array), [1, -2]);
  assert.deepEqual(Array.from(back.tensors['b']!.data as Uint8Array), [1, 2, 3]);
});

test('decodes a hand-made file with unpadded header and F64/I32/I64 tensors', () => {
  const header = '{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"i":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]},"l":{"dtype":"I64","shape":[],"data_offsets":[12,20]}}';
  const data = [
    0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // 1.5 as f64
    0xfe, 0xff, 0xff, 0xff, // -2 as i32
    5, 0, 0, 0, 0, 0, 0, 0x80, // i64 min + 5
  ];
  const { tensors, metadata } = decodeSafetensors(handFile(header, data));
  assert.deepEqual(metadata, {});
  assert.equal((tensors['x']!.data as Float64Array)[0], 1.5);
  assert.deepEqual(tensors['i']!.shape, [1, 1]);
  assert.equal((tensors['i']!.data as Int32Array)[0], -2);
  assert.deepEqual(tensors['l']!.shape, []);
  assert.equal((tensors['l']!.data as BigInt64Array)[0], -(2n ** 63n) + 5n);
});

test('round trip of every dtype through a file, written atomically', () => {
  const rng = new Rng(7);
  const tensors: Record<string, SafeTensor> = {
    w: { dtype: 'F32', shape: [3, 5], data: rng.normalArray(15) },
    d: { dtype: 'F64', shape: [4], data: Float64Array.from([Math.PI, -1e300, 0, 5e-324]) },
    u: { dtype: 'U8', shape: [5], data: Uint8Array.from([0, 1, 127, 128, 255]) },
    n: { dtype: 'I32', shape: [2, 2], data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, -7]) },
    q: { dtype: 'I64', shape: [2], data: BigInt64Array.from([2n ** 62n, -3n]) },
    e: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
  };
  const dir = mkdtempSync(join(tmpdir(), 'gpd-st-'));
  try {
    const file = join(dir, 'sub', 'm.safetensors');
    writeSafetensors(file, tensors, { format: 'gpd-bank', version: '1' });
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['m.safetensors'], 'no temp files left behind');
    const back = readSafetensors(file);
    // The metadata gain the sha256 of the data buffer (the bytes after the header).
    const raw = readFileSync(file);
    const dataStart = 8 + Number(raw.readBigUInt64LE(0));
    assert.deepEqual(back.metadata, { format: 'gpd-bank', version: '1', sha256: createHash('sha256').update(raw.subarray(dataStart)).digest('hex') });
    assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const b = back.tensors[name]!;
      assert.equal(b.dtype, t.dtype, name);
      assert.deepEqual(b.shape, t.shape, name);
      assert.equal(b.data.constructor, t.data.constructor, name);
      assert.deepEqual(Array.from(b.data as ArrayLike<number | bigint>), Array.from(t.data as ArrayLike<number | bigint>), name);
    }
    // Every data region starts aligned to its element width.
    const bytes = encodeSafetensors(tensors);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; data_offsets: number[] }>;
    for (const h of Object.values(header)) {
      const width = { F64: 8, I64: 8, F32: 4, I32: 4, U8: 1 }[h.dtype]!;
      assert.equal(h.data_offsets[0]! % width, 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decoded data does not alias the input bytes (Node Buffer pools)', () => {
  const bytes = Buffer.from(encodeSafetensors({ a: { dtype: 'F32', shape: [1], data: new Float32Array([3]) } }));
  const { tensors } = decodeSafetensors(bytes);
  bytes.fill(0);
  assert.equal((tensors['a']!.data as Float32Array)[0], 3);
  assert.equal(tensors['a']!.data.buffer.byteLength, 4);
});

test('rejects malformed files with errors naming the file and tensor', () => {
  const name = 'bank/x.safetensors';
  const bad = (header: string, data: number[], re: RegExp) =>
    assert.throws(() => decodeSafetensors(handFile(header, data), name), (e: Error) => e.message.includes(name) && re.test(e.message));
  bad('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}', [0, 0, 0, 0, 0, 0, 0, 0], /not valid UTF-8 JSON/);
  bad('[1,2]', [], /must be a JSON object/);
  bad('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [0, 0, 0, 0], /tensor "a".*run past the data buffer/);
  bad('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', [0, 0, 0, 0, 0, 0, 0, 0], /tensor "a".*needs 12 bytes/);
  bad(
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    [0, 0, 0, 0, 0, 0, 0, 0],
    /tensor "b".*overlap/,
  );
  bad('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [0, 0], /tensor "a".*hole/);
  bad('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [0, 0], /tensors cover only 1/);
  bad('{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}', [0, 0], /tensor "a".*F16 is not supported/);
  bad('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}', [], /tensor "a".*shape/);
  bad('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}', [0], /tensor "a".*end before begin/);
  bad('{"__metadata__":{"k":1}}', [], /metadata "k" must be a string/);
  const tooLong = new Uint8Array(16);
  new DataView(tooLong.buffer).setBigUint64(0, 100n, true);
  assert.throws(() => decodeSafetensors(tooLong, name), /x\.safetensors: header length 100 runs past the end/);
  assert.throws(() => decodeSafetensors(new Uint8Array(3), name), /too short/);
  assert.throws(() => readSafetensors('/nonexistent/gpd/none.safetensors'), /none\.safetensors/);
});

test('encode rejects inconsistent tensors', () => {
  assert.throws(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /tensor "a".*holds 3 values but data has 2/);
  assert.throws(() => encodeSafetensors({ a: { dtype: 'F64', shape: [2], data: new Float32Array(2) } }), /tensor "a".*needs a Float64Array/);
  assert.throws(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }), /reserved/);
});

test('a garbage file on disk is rejected with its path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-st-'));
  try {
    const file = join(dir, 'junk.safetensors');
    writeFileSync(file, 'this is not a safetensors file at all');
    assert.throws(() => readSafetensors(file), /junk\.safetensors: header length \d+ is implausibly large/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the checksum catches a changed or damaged data buffer; files without one (other tools) still read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-st-'));
  try {
    const file = join(dir, 'v.safetensors');
    writeSafetensors(file, { params: { dtype: 'F32', shape: [4], data: Float32Array.from([1, 2, 3, 4]) } });
    const bytes = readFileSync(file);
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    // A value replaced in place: the structure is intact, only the checksum can tell.
    bytes.writeFloatLE(1e30, dataStart + 4);
    writeFileSync(file, bytes);
    assert.throws(() => readSafetensors(file), (e: Error) => e instanceof ArtefactError && e.message.includes(file) && /checksum mismatch/.test(e.message));
    // Truncated: named, an ArtefactError too.
    writeFileSync(file, bytes.subarray(0, dataStart + 6));
    assert.throws(() => readSafetensors(file), (e: Error) => e instanceof ArtefactError && e.message.includes(file) && /run past the data buffer/.test(e.message));
    // Encoded without a checksum, as other tools write: read as it is.
    writeFileSync(file, encodeSafetensors({ params: { dtype: 'F32', shape: [1], data: Float32Array.from([5]) } }, { k: 'v' }));
    assert.deepEqual(readSafetensors(file).metadata, { k: 'v' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
