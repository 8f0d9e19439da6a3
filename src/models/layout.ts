/**
 * ParamLayout: an ordered list of named tensor shapes <-> offsets in one flat Float32 vector.
 *
 * This single format is shared by pretraining, the parameter bank, the diffusion model's input
 * and fine-tuning, and lets worker threads pass whole models around as plain Float32Arrays.
 */
import { createHash } from 'node:crypto';
import type { Rng } from '../util/prng.js';

/** How an entry is initialised (mirrors PyTorch's defaults for the reference layers). */
export type InitScheme =
  | { kind: 'uniform'; bound: number } // U(-bound, bound), e.g. kaiming_uniform(a=sqrt(5)) => 1/sqrt(fan_in)
  | { kind: 'normal'; std: number }
  | { kind: 'const'; value: number };

/** What part of the network an entry belongs to; conditioning with inductive bias uses 'spatial'. */
export type ParamRole = 'temporal' | 'spatial' | 'head' | 'norm' | 'other';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: InitScheme;
  role: ParamRole;
}

export interface ParamEntry extends ParamSpec {
  offset: number;
  size: number;
}

export class ParamLayout {
  readonly entries: readonly ParamEntry[];
  readonly size: number;
  private readonly byName: Map<string, ParamEntry>;

  constructor(readonly modelName: string, specs: ParamSpec[]) {
    let offset = 0;
    const entries: ParamEntry[] = [];
    const byName = new Map<string, ParamEntry>();
    for (const s of specs) {
      if (byName.has(s.name)) throw new Error(`ParamLayout ${modelName}: duplicate entry "${s.name}"`);
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (!Number.isInteger(size) || size <= 0) throw new Error(`ParamLayout ${modelName}: bad shape for "${s.name}": [${s.shape}]`);
      const e: ParamEntry = { ...s, shape: [...s.shape], offset, size };
      entries.push(e);
      byName.set(s.name, e);
      offset += size;
    }
    this.entries = entries;
    this.size = offset;
    this.byName = byName;
  }

  entry(name: string): ParamEntry {
    const e = this.byName.get(name);
    if (!e) throw new Error(`ParamLayout ${this.modelName}: no entry "${name}"`);
    return e;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Stable hash of model name + ordered names and shapes; banks and generators record it. */
  hash(): string {
    const text = this.modelName + '|' + this.entries.map((e) => `${e.name}:${e.shape.join('x')}`).join(';');
    return createHash('sha256').update(text).digest('hex').slice(0, 16);
  }

  /** A view (no copy) of one entry inside a flat vector. */
  view(flat: Float32Array, name: string): Float32Array {
    this.checkLength(flat);
    const e = this.entry(name);
    return flat.subarray(e.offset, e.offset + e.size);
  }

  /** Split a flat vector into named copies. */
  unflatten(flat: Float32Array): Record<string, Float32Array> {
    this.checkLength(flat);
    const out: Record<string, Float32Array> = {};
    for (const e of this.entries) out[e.name] = flat.slice(e.offset, e.offset + e.size);
    return out;
  }

  /** Join named arrays (every entry required, sizes checked) into one flat vector. */
  flatten(parts: Record<string, Float32Array | ArrayLike<number>>): Float32Array {
    const flat = new Float32Array(this.size);
    for (const e of this.entries) {
      const p = parts[e.name];
      if (!p) throw new Error(`ParamLayout ${this.modelName}: missing entry "${e.name}"`);
      if (p.length !== e.size) throw new Error(`ParamLayout ${this.modelName}: entry "${e.name}" has ${p.length} values, expected ${e.size}`);
      flat.set(p, e.offset);
    }
    return flat;
  }

  /** A freshly initialised flat vector drawn from `rng` with each entry's scheme. */
  init(rng: Rng): Float32Array {
    const flat = new Float32Array(this.size);
    for (const e of this.entries) {
      const v = flat.subarray(e.offset, e.offset + e.size);
      const s = e.init;
      if (s.kind === 'uniform') for (let i = 0; i < v.length; i++) v[i] = (rng.uniform() * 2 - 1) * s.bound;
      else if (s.kind === 'normal') for (let i = 0; i < v.length; i++) v[i] = rng.normal() * s.std;
      else v.fill(s.value);
    }
    return flat;
  }

  /** Per-entry role for every position of the flat vector (used by layer-aware tokenisation). */
  entryIndexPerPosition(): Int32Array {
    const idx = new Int32Array(this.size);
    this.entries.forEach((e, k) => idx.fill(k, e.offset, e.offset + e.size));
    return idx;
  }

  describe(): string {
    return this.entries.map((e) => `${e.name} [${e.shape.join(', ')}] @${e.offset} (${e.role})`).join('\n');
  }

  private checkLength(flat: Float32Array): void {
    if (flat.length !== this.size) {
      throw new Error(`ParamLayout ${this.modelName}: vector has ${flat.length} values, layout needs ${this.size}`);
    }
  }
}
