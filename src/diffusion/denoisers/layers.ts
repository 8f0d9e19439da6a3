/**
 * Building blocks of the denoiser as plain functions over tensors, written for the tfjs wasm backend:
 * only 2-D matMuls (the wasm batched matMul is ~8x slower than a loop of 2-D ones) and a custom
 * gradient that uses explicit transposes (the built-in matMul gradient passes transpose flags, which
 * the wasm kernel runs ~8x slower).
 */
import { tf } from '../../runtime/backend.js';
import type * as tfTypes from '@tensorflow/tfjs';
import type { Rng } from '../../util/prng.js';

type T2 = tfTypes.Tensor2D;

/** a [m, k] @ b [k, n] with a backward pass made of transposes + plain matMuls. */
export const matMul2d = tf.customGrad(((...args: (tfTypes.Tensor | tfTypes.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tfTypes.Tensor, tfTypes.Tensor, tfTypes.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a as T2, b as T2),
    gradFunc: (dy: tfTypes.Tensor, saved: tfTypes.Tensor[]) => [
      tf.matMul(dy as T2, tf.transpose(saved[1]!) as T2),
      tf.matMul(tf.transpose(saved[0]!) as T2, dy as T2),
    ],
  };
}) as any) as (a: T2, b: T2) => T2; // eslint-disable-line @typescript-eslint/no-explicit-any -- tfjs does not export CustomGradientFunc

/** x [N, in] @ w [in, out] + b [out]. */
export function dense(x: T2, w: tfTypes.Tensor, b: tfTypes.Tensor): T2 {
  return tf.add(matMul2d(x, w as T2), b) as T2;
}

/** Layer norm over the last axis without affine (callers apply gamma/beta or adaLN modulation). */
export function normalizeLastAxis(x: tfTypes.Tensor, eps = 1e-5): tfTypes.Tensor {
  const axis = x.rank - 1;
  const mean = tf.mean(x, axis, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), axis, true);
  return tf.mul(xc, tf.rsqrt(tf.add(variance, eps)));
}

export function layerNorm(x: T2, gamma: tfTypes.Tensor, beta: tfTypes.Tensor): T2 {
  return tf.add(tf.mul(normalizeLastAxis(x), gamma), beta) as T2;
}

/** SiLU / swish: x * sigmoid(x) (the wasm backend has no GELU kernel). */
export function silu(x: tfTypes.Tensor): tfTypes.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * n row blocks [r, c] of x [n * r, c]. Each block is a C++ gather of one row of x viewed as
 * [n, r * c]: the wasm Slice kernel copies its WHOLE input to JS on every call (readSync), so n
 * slices of a big tensor cost n full copies (measured 35 ms per slice of an 8.7 MB tensor).
 * Not differentiable on its own (gather's gradient needs a kernel wasm lacks): use inside customGrad.
 */
export function rowBlocks(x: tfTypes.Tensor, n: number): T2[] {
  const [rows, c] = x.shape as [number, number];
  const r = rows / n;
  if (n === 1) return [x as T2];
  const flat = tf.reshape(x, [n, r * c]);
  const out: T2[] = [];
  for (let i = 0; i < n; i++) {
    const idx = tf.tensor1d([i], 'int32');
    out.push(tf.reshape(tf.gather(flat, idx, 0), [r, c]) as T2);
    idx.dispose();
  }
  return out;
}

/**
 * softmax(Q_i K_i^T) V_i for n independent blocks: q, k, v are [n * L, dh] with block i in rows
 * i*L..(i+1)*L (q pre-scaled). Forward and backward are written by hand with 2-D matMuls and explicit
 * transposes: on wasm a loop of 2-D matMuls beats the batched kernel ~9x, and the softmax of 2-D
 * blocks beats the 3-D one ~8x (measured at 256 blocks of 265 x 32).
 * `mask` (additive, [R, R], or a 1-element tensor for none) lets one block hold several short
 * sequences side by side (block-diagonal attention): per-op overhead (~0.1 ms here) dominates tiny blocks.
 */
export const blockAttention = tf.customGrad(((...args: (tfTypes.Tensor | tfTypes.GradSaveFunc | number)[]) => {
  const [q, k, v, nT, mask, save] = args as [T2, T2, T2, tfTypes.Tensor, tfTypes.Tensor, tfTypes.GradSaveFunc];
  const n = nT.shape[0];
  const masked = mask.size > 1;
  const qs = rowBlocks(q, n);
  const ks = rowBlocks(k, n);
  const vs = rowBlocks(v, n);
  const probs: T2[] = [];
  const outs: T2[] = [];
  for (let i = 0; i < n; i++) {
    const logits = tf.matMul(qs[i]!, tf.transpose(ks[i]!));
    const p = tf.softmax(masked ? tf.add(logits, mask) : logits) as T2;
    probs.push(p);
    outs.push(tf.matMul(p, vs[i]!));
  }
  save([q, k, v, ...probs]);
  return {
    value: n === 1 ? outs[0]! : (tf.concat(outs, 0) as T2),
    gradFunc: (dy: tfTypes.Tensor, saved: tfTypes.Tensor[]) => {
      const [sq, sk, sv, ...sp] = saved as T2[];
      const dys = rowBlocks(dy, n);
      const qb = rowBlocks(sq!, n);
      const kb = rowBlocks(sk!, n);
      const vb = rowBlocks(sv!, n);
      const dq: T2[] = [];
      const dk: T2[] = [];
      const dv: T2[] = [];
      for (let i = 0; i < n; i++) {
        const p = sp[i]!;
        dv.push(tf.matMul(tf.transpose(p), dys[i]!));
        const dp = tf.matMul(dys[i]!, tf.transpose(vb[i]!));
        const dz = tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), 1, true))) as T2;
        dq.push(tf.matMul(dz, kb[i]!));
        dk.push(tf.matMul(tf.transpose(dz), qb[i]!));
      }
      const cat = (xs: T2[]) => (n === 1 ? xs[0]! : tf.concat(xs, 0));
      return [cat(dq), cat(dk), cat(dv), tf.zerosLike(nT), tf.zerosLike(mask)];
    },
  };
}) as any) as (q: T2, k: T2, v: T2, blocks: tfTypes.Tensor, mask: tfTypes.Tensor) => T2; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Multi-head self-attention core. q, k, v: [B * L, H * dh] (token-major). Returns [B * L, H * dh].
 */
export function multiHeadAttention(q: T2, k: T2, v: T2, B: number, L: number, H: number): T2 {
  const d = q.shape[1];
  const dh = d / H;
  const scale = 1 / Math.sqrt(dh);
  const n = B * H;
  // [B, L, H, dh] -> [B, H, L, dh]
  const heads = (x: tfTypes.Tensor) => tf.transpose(tf.reshape(x, [B, L, H, dh]), [0, 2, 1, 3]);
  let o: tfTypes.Tensor;
  if (L <= BATCHED_ATTENTION_MAX_TOKENS) {
    // Short sequences: per-op overhead dominates, so one batched matMul beats n small ones
    // (measured 4.8 ms vs 205 ms forward for 128 blocks of 22 tokens).
    const qh = tf.reshape(heads(tf.mul(q, scale)), [n, L, dh]) as tfTypes.Tensor3D;
    const kt = tf.reshape(tf.transpose(tf.reshape(k, [B, L, H, dh]), [0, 2, 3, 1]), [n, dh, L]) as tfTypes.Tensor3D;
    const vh = tf.reshape(heads(v), [n, L, dh]) as tfTypes.Tensor3D;
    o = tf.matMul(tf.softmax(tf.matMul(qh, kt)) as tfTypes.Tensor3D, vh);
  } else {
    const rows = (x: tfTypes.Tensor) => tf.reshape(heads(x), [n * L, dh]) as T2;
    const G = sequencesPerBlock(n, L);
    // The block count travels as a tensor's shape so the custom gradient sees only tensor inputs.
    const blocks = tf.zeros([n / G]);
    const mask = G > 1 ? blockDiagonalMask(G, L) : tf.zeros([1]);
    o = blockAttention(rows(tf.mul(q, scale)), rows(k), rows(v), blocks, mask);
  }
  return tf.reshape(tf.transpose(tf.reshape(o, [B, H, L, dh]), [0, 2, 1, 3]), [B * L, d]) as T2;
}

/** Up to this many tokens attention uses the batched kernel; above, a loop of 2-D blocks (measured at 22 and 265). */
export const BATCHED_ATTENTION_MAX_TOKENS = 96;

/** Largest divisor G of n with G * L <= 256: short sequences share one masked matMul. */
export function sequencesPerBlock(n: number, L: number, maxRows = 256): number {
  let best = 1;
  for (let g = 1; g <= n && g * L <= maxRows; g++) if (n % g === 0) best = g;
  return best;
}

function blockDiagonalMask(G: number, L: number): tfTypes.Tensor {
  const R = G * L;
  const m = new Float32Array(R * R).fill(-1e9);
  for (let g = 0; g < G; g++) for (let i = g * L; i < (g + 1) * L; i++) m.fill(0, i * R + g * L, i * R + (g + 1) * L);
  return tf.tensor2d(m, [R, R]);
}

/**
 * Attention from every token to a handful of context vectors (the prompts), without matMuls:
 * with J <= 3 keys, broadcasting products are cheaper than any per-example loop.
 * q: [B * L, d]; keys / values: J tensors [B, d]. Returns [B * L, d].
 */
export function attendToContext(q: T2, keys: tfTypes.Tensor[], values: tfTypes.Tensor[], B: number, L: number, H: number): T2 {
  const d = q.shape[1];
  const dh = d / H;
  const q4 = tf.reshape(q, [B, L, H, dh]);
  const scale = 1 / Math.sqrt(dh);
  const scores = keys.map((kj) => tf.mul(tf.sum(tf.mul(q4, tf.reshape(kj, [B, 1, H, dh])), 3), scale)); // [B, L, H]
  const weights = tf.softmax(tf.stack(scores, 3)); // [B, L, H, J]
  const parts = keys.length === 1 ? [weights] : tf.split(weights, keys.length, 3); // J x [B, L, H, 1]
  let out: tfTypes.Tensor | null = null;
  values.forEach((vj, j) => {
    const term = tf.mul(parts[j]!, tf.reshape(vj, [B, 1, H, dh]));
    out = out ? tf.add(out, term) : term;
  });
  return tf.reshape(out!, [B * L, d]) as T2;
}

/** Sinusoidal embedding of (possibly fractional) diffusion steps t [B] -> [B, dim]. */
export function sinusoidalEmbedding(t: tfTypes.Tensor1D, dim: number, scale: number): T2 {
  const half = Math.floor(dim / 2);
  const freqs = new Float32Array(half);
  const step = Math.log(10000) / Math.max(1, half - 1);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp(-step * i);
  const args = tf.mul(tf.reshape(tf.mul(t, scale), [-1, 1]), tf.tensor2d(freqs, [1, half]));
  const parts = [tf.sin(args), tf.cos(args)];
  if (dim > 2 * half) parts.push(tf.zeros([t.shape[0], dim - 2 * half]));
  return tf.concat(parts, 1) as T2;
}

/** Xavier/Glorot-uniform values from our own Rng (tfjs initialisers would use tfjs's global RNG). */
export function xavierUniform(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  return rng.uniformArray(fanIn * fanOut, -bound, bound);
}
