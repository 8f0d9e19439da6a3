/**
 * The cluster's shared vocabulary: the BullMQ queue every coordinator and worker uses, the job
 * envelope (what a BullMQ job's data hold), the return value, the progress a worker reports, the
 * deterministic job ids, and the content-addressed blob store in Redis.
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { sha256 } from './codec.js';

export const QUEUE_NAME = 'region-jobs';
/** Every key of the cluster starts with this (BullMQ's queues and the blobs). */
export const KEY_PREFIX = 'gpd';

/** A BullMQ job's data: the payload as codec JSON, its blobs by hash, and who made it. */
export const JobEnvelope = z
  .object({
    kind: z.string().min(1),
    /** "synth-a region 3": for logs and errors. */
    label: z.string(),
    /** The coordinator's code fingerprint (cluster/fingerprint.ts). */
    code: z.string().min(1),
    /** sha256 over code, kind and payload: the job id's last part and an integrity check. */
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    payload: z.string(),
    blobs: z.array(z.string().regex(/^[0-9a-f]{64}$/)),
  })
  .strict();
export type JobEnvelope = z.output<typeof JobEnvelope>;

/** A job's return value: the result as codec JSON with its blobs inline (base64). */
export const JobReturn = z.object({ code: z.string(), json: z.string(), blobs: z.record(z.string(), z.string()) }).strict();
export type JobReturn = z.output<typeof JobReturn>;

/** What a worker reports while a job runs (the coordinator's progress lanes). */
export const JobProgress = z.object({ done: z.number(), total: z.number(), worker: z.string() }).strict();

export function payloadHash(code: string, kind: string, payload: string): string {
  return sha256(`${code}\n${kind}\n${payload}`);
}

/**
 * Deterministic and content-addressed: the same region of the same bank (same data, settings and
 * code) always gets the same id, so enqueueing it again is a no-op and a restarted coordinator finds
 * it; the label keeps ids readable. (BullMQ ids must not contain ':'.)
 */
export function jobIdOf(kind: string, label: string, hash: string): string {
  return `${kind}.${label.replace(/[^A-Za-z0-9._-]+/g, '_')}.${hash.slice(0, 24)}`;
}

/**
 * Blobs (the bytes of a job's arrays) live under gpd:blob:<sha256>, written once per content. Each
 * has an expiry, renewed whenever a job refers to it, so blobs of a build abandoned for good go away
 * by themselves; a coordinator deletes those of each job it has collected (cluster/engine.ts).
 */
export class BlobStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds = 14 * 24 * 3600,
  ) {}

  private key(sha: string): string {
    return `${KEY_PREFIX}:blob:${sha}`;
  }

  async put(blobs: Map<string, Uint8Array>): Promise<void> {
    if (blobs.size === 0) return;
    const p = this.redis.pipeline();
    for (const [sha, bytes] of blobs) {
      p.set(this.key(sha), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', this.ttlSeconds, 'NX');
      p.expire(this.key(sha), this.ttlSeconds);
    }
    for (const [err] of (await p.exec()) ?? []) if (err) throw err;
  }

  async get(shas: string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    if (shas.length === 0) return out;
    const p = this.redis.pipeline();
    for (const sha of shas) p.getBuffer(this.key(sha));
    const replies = (await p.exec()) ?? [];
    const missing: string[] = [];
    replies.forEach(([err, value], i) => {
      if (err) throw err;
      if (value) out.set(shas[i]!, new Uint8Array(value as Buffer));
      else missing.push(shas[i]!);
    });
    if (missing.length > 0) throw new Error(`${missing.length} blob(s) of this job are gone from Redis (${missing.map((s) => s.slice(0, 12)).join(', ')}): expired or removed; rerun the coordinator to upload them again`);
    return out;
  }

  async delete(shas: string[]): Promise<void> {
    if (shas.length > 0) await this.redis.del(...shas.map((s) => this.key(s)));
  }
}
