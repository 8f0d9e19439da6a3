/**
 * Parameter tokenisation and per-position normalisation for the diffusion model.
 *
 * A flat parameter vector of P values (laid out by a ParamLayout) becomes L tokens of d_tok values:
 * - 'reference': the GPD release's layout. The vector is reshaped to [channels, P/channels] (zero-padded
 *   to a multiple of `channels`) and each of the P/channels columns is one token of `channels` values,
 *   so token i holds positions c * L + i. STGCN's 16,960 values with 64 channels give 265 tokens of 64.
 * - 'layer-aware': tokens follow the layout's entries. Each entry is cut into chunks of `tokenSize`
 *   values (last chunk zero-padded), a token never mixes two entries, and the network gets to know
 *   which entry a token comes from and which chunk of it it is.
 *
 * All maps are written with slice / pad / reshape / transpose / concat, whose gradients exist on every
 * tfjs backend (tf.gather's gradient needs UnsortedSegmentSum, which the wasm backend lacks).
 */
import { tf } from '../runtime/backend.js';
import type * as tfTypes from '@tensorflow/tfjs';
import type { ParamLayout } from '../models/layout.js';

/**
 * The tokenisations by their config names. 'layer' is TokenizationSpec's kind 'layer-aware': the spec
 * keeps the longer name because saved generators (generator.json) hold it.
 */
export const TOKENIZERS = ['reference', 'layer'] as const;
export type TokenizerName = (typeof TOKENIZERS)[number];

export type TokenizationSpec = { kind: 'reference'; channels: number } | { kind: 'layer-aware'; tokenSize: number };

export class Tokenizer {
  /** Number of tokens L. */
  readonly numTokens: number;
  /** Values per token d_tok. */
  readonly tokenSize: number;
  /** Per token: index of the layout entry it comes from (for 'reference', the entry of its first real value). */
  readonly entryOfToken: Int32Array;
  /** Per token: chunk index within its entry (for 'reference', the column index). */
  readonly chunkOfToken: Int32Array;
  /** Per token: 1 when any of its values belongs to an entry with role 'spatial'. */
  readonly spatialMask: Float32Array;
  /** Largest chunk index + 1 (size of the within-entry position table). */
  readonly maxChunks: number;
  /** Layer-aware only: first token of each entry and the entry's token count. */
  private readonly entryTokenStart: Int32Array;
  private readonly entryTokenCount: Int32Array;
  readonly P: number;

  constructor(readonly layout: ParamLayout, readonly spec: TokenizationSpec) {
    const P = layout.size;
    this.P = P;
    const entryAt = layout.entryIndexPerPosition();
    const spatialEntry = layout.entries.map((e) => e.role === 'spatial');
    const E = layout.entries.length;
    this.entryTokenStart = new Int32Array(E);
    this.entryTokenCount = new Int32Array(E);
    if (spec.kind === 'reference') {
      const C = spec.channels;
      if (!Number.isInteger(C) || C <= 0) throw new Error(`tokenisation 'reference': channels must be a positive integer, got ${C}`);
      const L = Math.ceil(P / C);
      this.numTokens = L;
      this.tokenSize = C;
      this.entryOfToken = new Int32Array(L);
      this.chunkOfToken = new Int32Array(L);
      this.spatialMask = new Float32Array(L);
      for (let i = 0; i < L; i++) {
        this.entryOfToken[i] = entryAt[i]!; // position c=0 of column i (always < P)
        this.chunkOfToken[i] = i;
        for (let c = 0; c < C; c++) {
          const p = c * L + i;
          if (p < P && spatialEntry[entryAt[p]!]) {
            this.spatialMask[i] = 1;
            break;
          }
        }
      }
      this.maxChunks = L;
    } else {
      const S = spec.tokenSize;
      if (!Number.isInteger(S) || S <= 0) throw new Error(`tokenisation 'layer-aware': tokenSize must be a positive integer, got ${S}`);
      let L = 0;
      let maxChunks = 0;
      layout.entries.forEach((e, k) => {
        const n = Math.ceil(e.size / S);
        this.entryTokenStart[k] = L;
        this.entryTokenCount[k] = n;
        L += n;
        maxChunks = Math.max(maxChunks, n);
      });
      this.numTokens = L;
      this.tokenSize = S;
      this.entryOfToken = new Int32Array(L);
      this.chunkOfToken = new Int32Array(L);
      this.spatialMask = new Float32Array(L);
      layout.entries.forEach((_e, k) => {
        for (let j = 0; j < this.entryTokenCount[k]!; j++) {
          const tok = this.entryTokenStart[k]! + j;
          this.entryOfToken[tok] = k;
          this.chunkOfToken[tok] = j;
          this.spatialMask[tok] = spatialEntry[k] ? 1 : 0;
        }
      });
      this.maxChunks = maxChunks;
    }
  }

  /** [B, P] -> [B * L, d_tok] (row b * L + l is token l of example b). */
  toTokens(x: tfTypes.Tensor2D): tfTypes.Tensor2D {
    return tf.tidy(() => {
      const B = x.shape[0];
      const L = this.numTokens;
      const S = this.tokenSize;
      if (x.shape[1] !== this.P) throw new Error(`toTokens: expected [B, ${this.P}], got [${x.shape}]`);
      if (this.spec.kind === 'reference') {
        const padded = L * S > this.P ? tf.pad(x, [[0, 0], [0, L * S - this.P]]) : x;
        // [B, C, L] -> [B, L, C]
        return tf.transpose(tf.reshape(padded, [B, S, L]), [0, 2, 1]).reshape([B * L, S]) as tfTypes.Tensor2D;
      }
      const parts: tfTypes.Tensor[] = [];
      this.layout.entries.forEach((e, k) => {
        const n = this.entryTokenCount[k]!;
        let part: tfTypes.Tensor2D = tf.slice(x, [0, e.offset], [B, e.size]);
        if (n * S > e.size) part = tf.pad(part, [[0, 0], [0, n * S - e.size]]);
        parts.push(part);
      });
      const all = parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
      return tf.reshape(all, [B * L, S]) as tfTypes.Tensor2D;
    });
  }

  /** [B * L, d_tok] -> [B, P]; padding values are dropped. Differentiable. */
  fromTokens(tokens: tfTypes.Tensor2D, B: number): tfTypes.Tensor2D {
    return tf.tidy(() => {
      const L = this.numTokens;
      const S = this.tokenSize;
      if (this.spec.kind === 'reference') {
        const flat = tf.transpose(tf.reshape(tokens, [B, L, S]), [0, 2, 1]).reshape([B, L * S]) as tfTypes.Tensor2D;
        return L * S > this.P ? tf.slice(flat, [0, 0], [B, this.P]) : flat;
      }
      const flat = tf.reshape(tokens, [B, L * S]) as tfTypes.Tensor2D;
      const parts = this.layout.entries.map((e, k) => tf.slice(flat, [0, this.entryTokenStart[k]! * S], [B, e.size]));
      return (parts.length === 1 ? parts[0]! : tf.concat(parts, 1)) as tfTypes.Tensor2D;
    });
  }

  /** Same maps on plain arrays (tests, inspection): one example. */
  tokensOf(flat: Float32Array): Float32Array[] {
    const t = tf.tensor2d(flat, [1, this.P]);
    const tok = this.toTokens(t);
    const data = tok.dataSync() as Float32Array;
    t.dispose();
    tok.dispose();
    const out: Float32Array[] = [];
    for (let l = 0; l < this.numTokens; l++) out.push(data.slice(l * this.tokenSize, (l + 1) * this.tokenSize));
    return out;
  }
}

/** Per-position statistics of a parameter bank; the diffusion runs on (x - mean) / std. */
export interface Normalizer {
  mean: Float32Array;
  std: Float32Array;
}

/**
 * Mean and std over the bank per position. The std is floored at `floorFrac` x the median std
 * (and at an absolute 1e-8) so constant positions (e.g. a norm's ones) do not blow up.
 */
export function fitNormalizer(bank: Float32Array[], floorFrac = 0.1): Normalizer {
  if (bank.length === 0) throw new Error('fitNormalizer: empty bank');
  const P = bank[0]!.length;
  const mean = new Float64Array(P);
  bank.forEach((v, i) => {
    if (v.length !== P) throw new Error(`fitNormalizer: bank vector ${i} has ${v.length} values, expected ${P}`);
    for (let p = 0; p < P; p++) mean[p]! += v[p]!;
  });
  for (let p = 0; p < P; p++) mean[p]! /= bank.length;
  const varr = new Float64Array(P);
  for (const v of bank) for (let p = 0; p < P; p++) varr[p]! += (v[p]! - mean[p]!) ** 2;
  const std = new Float32Array(P);
  for (let p = 0; p < P; p++) std[p] = Math.sqrt(varr[p]! / Math.max(1, bank.length - 1));
  const sorted = Float32Array.from(std).sort();
  const median = sorted[Math.floor(P / 2)]!;
  const floor = Math.max(1e-8, floorFrac * median);
  for (let p = 0; p < P; p++) if (!(std[p]! >= floor)) std[p] = floor;
  return { mean: Float32Array.from(mean), std };
}

export function normalize(n: Normalizer, v: Float32Array): Float32Array {
  const out = new Float32Array(v.length);
  for (let p = 0; p < v.length; p++) out[p] = (v[p]! - n.mean[p]!) / n.std[p]!;
  return out;
}

export function denormalize(n: Normalizer, z: Float32Array): Float32Array {
  const out = new Float32Array(z.length);
  for (let p = 0; p < z.length; p++) out[p] = z[p]! * n.std[p]! + n.mean[p]!;
  return out;
}

/**
 * x0 clipping range in normalised space: per position, the bank's min/max widened by `widen` x the
 * range on each side (GPD's [-1, 1] clip would be wrong after z-scoring: most values lie in +-3).
 */
export function clipRangeFromBank(n: Normalizer, bank: Float32Array[], widen = 0.5): { min: Float32Array; max: Float32Array } {
  const P = n.mean.length;
  const lo = new Float32Array(P).fill(Infinity);
  const hi = new Float32Array(P).fill(-Infinity);
  for (const v of bank) {
    for (let p = 0; p < P; p++) {
      const z = (v[p]! - n.mean[p]!) / n.std[p]!;
      if (z < lo[p]!) lo[p] = z;
      if (z > hi[p]!) hi[p] = z;
    }
  }
  for (let p = 0; p < P; p++) {
    // At least +-1 around the mean so a bank of a handful of vectors does not pin samples to it.
    const span = Math.max(hi[p]! - lo[p]!, 2);
    lo[p] = Math.min(lo[p]!, -1) - widen * span;
    hi[p] = Math.max(hi[p]!, 1) + widen * span;
  }
  return { min: lo, max: hi };
}
