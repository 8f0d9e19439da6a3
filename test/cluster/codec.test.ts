import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blobRefs, decode, encode, packResult, unpackResult } from '../../src/cluster/codec.js';
import { parseRedisUrl, redact } from '../../src/cluster/redis-url.js';

test('the codec round-trips typed arrays, NaN and infinities; equal arrays share one blob', () => {
  const shared = new Float32Array([1.5, -2, NaN]);
  const value = { a: shared, b: [shared, new Float64Array([Math.PI])], m: { mae: NaN, rmse: Infinity, low: -Infinity }, u: new Uint8Array([0, 1, 255]), i: new Int32Array([-7]), s: 'x', skip: undefined };
  const { json, blobs } = encode(value);
  assert.equal(blobs.size, 4, 'the shared array is stored once');
  assert.deepEqual(blobRefs(json).sort(), [...blobs.keys()].sort());
  const back = decode(json, blobs) as typeof value;
  assert.deepEqual(back, { a: shared, b: [shared, new Float64Array([Math.PI])], m: { mae: NaN, rmse: Infinity, low: -Infinity }, u: new Uint8Array([0, 1, 255]), i: new Int32Array([-7]), s: 'x' });
  assert.ok(back.a instanceof Float32Array && back.b[1] instanceof Float64Array);
  assert.deepEqual(unpackResult(packResult(value)), back);
});

test('decoding refuses a blob that is missing, of the wrong length, or not what its hash says', () => {
  const { json, blobs } = encode({ v: new Float32Array([1, 2, 3]) });
  const [sha] = [...blobs.keys()];
  assert.throws(() => decode(json, new Map()), new RegExp(`blob ${sha} is missing`));
  assert.throws(() => decode(json, new Map([[sha!, new Uint8Array(8)]])), /holds 8 bytes, expected 3 f32 values/);
  assert.throws(() => decode(json, new Map([[sha!, new Uint8Array(12)]])), /does not match its hash/);
});

test('a Redis URL is parsed without ever echoing its password; env:NAME reads it from the environment', () => {
  const t = parseRedisUrl('rediss://user:s%3Acret@cache.internal:6380/2');
  assert.equal(t.display, 'rediss://cache.internal:6380/2 (password set)');
  const msg = redact('connect to rediss://user:s%3Acret@cache.internal:6380/2 failed; auth s:cret; s%3Acret', t);
  assert.equal(msg, 'connect to rediss://cache.internal:6380/2 (password set) failed; auth ***; ***');
  assert.equal(parseRedisUrl('redis://127.0.0.1:7000').display, 'redis://127.0.0.1:7000');
  for (const bad of ['http://:secret@host:1', 'redis//:secret@host', 'not a url secret']) {
    assert.throws(() => parseRedisUrl(bad), (e: Error) => e.name === 'UserError' && e.message.startsWith('--redis') && !e.message.includes('secret'));
  }
  process.env.GPD_TEST_REDIS = 'redis://:pw@10.0.0.1:6379';
  assert.equal(parseRedisUrl('env:GPD_TEST_REDIS').url, 'redis://:pw@10.0.0.1:6379');
  delete process.env.GPD_TEST_REDIS;
  assert.throws(() => parseRedisUrl('env:GPD_TEST_REDIS'), /environment variable GPD_TEST_REDIS is not set/);
});
