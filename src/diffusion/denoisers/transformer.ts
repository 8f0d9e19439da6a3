/**
 * Transformer denoiser over parameter tokens, with GPD's five ways of feeding the prompts in.
 *
 * The network is a pure function `forward(params, xt, t, prompts)` over a dict of tensors, so the
 * trainer can evaluate it with the raw weights, the EMA weights or the best-so-far weights alike.
 * Pre-LN blocks: h += Attn(LN(h)); h += MLP(LN(h)).
 *
 * Conditioning strategies (GPD section 4.3 / the reference's Transformer1..5):
 * - 'pre-bias':      spatial prompt embedding added only to tokens of spatial-layer parameters (inductive
 *                    bias: the spatial prompt describes the graph neighbourhood that those weights mix),
 *                    temporal prompt + step added to all tokens, at the input.
 * - 'pre':           prompt embeddings + step added to all tokens at the input.
 * - 'pre-adaptive':  each token attends (softmax over the prompt embeddings) to pick its own condition,
 *                    which is added before every block.
 * - 'post-adaptive': a cross-attention sub-layer (tokens -> prompt embeddings) after self-attention in
 *                    every block.
 * - 'adaln':         prompts + step set every layer norm's scale/shift and gate the residual branches
 *                    (DiT's adaLN-Zero: modulation weights start at zero, so blocks start as identity).
 * Classifier-free guidance: a learned null embedding replaces a prompt's embedding where keep = 0.
 */
import { tf } from '../../runtime/backend.js';
import type * as tfTypes from '@tensorflow/tfjs';
import type { ParamLayout } from '../../models/layout.js';
import { Rng } from '../../util/prng.js';
import type { DenoiseFn } from '../types.js';
import { Tokenizer, type TokenizationSpec } from '../tokenize.js';
import { attendToContext, dense, layerNorm, matMul2d, multiHeadAttention, normalizeLastAxis, silu, sinusoidalEmbedding, xavierUniform } from './layers.js';

type T2 = tfTypes.Tensor2D;
type Tensor = tfTypes.Tensor;

export const CONDITIONING_STRATEGIES = ['pre-bias', 'pre', 'pre-adaptive', 'post-adaptive', 'adaln'] as const;
export type ConditioningStrategy = (typeof CONDITIONING_STRATEGIES)[number];

export interface TransformerConfig {
  tokenization: TokenizationSpec;
  /** Model width d. */
  width: number;
  /** Number of blocks. */
  depth: number;
  heads: number;
  /** MLP hidden = mlpRatio * width. */
  mlpRatio: number;
  /** Prompt vector sizes; 0 = that prompt is absent. */
  spatialDim: number;
  temporalDim: number;
  strategy: ConditioningStrategy;
  /** t is multiplied by this before the sinusoidal embedding: 1 for integer steps, ~1000 for flow times in [0, 1]. */
  timeScale: number;
}

export const DEFAULT_TRANSFORMER: Omit<TransformerConfig, 'tokenization' | 'spatialDim' | 'temporalDim'> = {
  width: 128,
  depth: 2,
  heads: 4,
  mlpRatio: 2,
  strategy: 'pre-bias',
  timeScale: 1,
};

/** Prompt batches [B, dim]; null = use the learned null prompt (unconditional). */
export interface PromptBatch {
  spatial: T2 | null;
  temporal: T2 | null;
}

export type ParamDict = Record<string, Tensor>;

interface ParamInit {
  shape: number[];
  values: Float32Array;
}

export class TransformerDenoiser {
  readonly tokenizer: Tokenizer;
  readonly params: Record<string, tfTypes.Variable>;
  /** Parameter names in a fixed order (serialisation, optimiser state). */
  readonly names: string[];
  private readonly consts: { spatialMask: Tensor; posOneHot: Tensor[] };

  constructor(readonly layout: ParamLayout, readonly config: TransformerConfig, rng: Rng) {
    validateConfig(config);
    this.tokenizer = new Tokenizer(layout, config.tokenization);
    const init = initialParams(this.tokenizer, config, rng);
    this.names = Object.keys(init);
    this.params = {};
    for (const n of this.names) this.params[n] = tf.variable(tf.tensor(init[n]!.values, init[n]!.shape), true, `gpd.denoiser.${n}.${rng.seed}.${uid++}`);
    const L = this.tokenizer.numTokens;
    const oneHot = (idx: Int32Array, depth: number) => {
      const m = new Float32Array(L * depth);
      idx.forEach((k, l) => (m[l * depth + k] = 1));
      return tf.tensor2d(m, [L, depth]);
    };
    this.consts = {
      spatialMask: tf.tensor3d(this.tokenizer.spatialMask, [1, L, 1]),
      posOneHot:
        config.tokenization.kind === 'layer-aware'
          ? [oneHot(this.tokenizer.entryOfToken, layout.entries.length), oneHot(this.tokenizer.chunkOfToken, this.tokenizer.maxChunks)]
          : [],
    };
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.names.reduce((s, n) => s + this.params[n]!.size, 0);
  }

  /** Copies of the current weights. */
  getWeights(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const n of this.names) out[n] = this.params[n]!.dataSync() as Float32Array;
    return out;
  }

  setWeights(w: Record<string, Float32Array>): void {
    for (const n of this.names) {
      const v = w[n];
      if (!v) throw new Error(`denoiser weights: missing "${n}"`);
      if (v.length !== this.params[n]!.size) throw new Error(`denoiser weights: "${n}" has ${v.length} values, expected ${this.params[n]!.size}`);
      tf.tidy(() => this.params[n]!.assign(tf.tensor(v, this.params[n]!.shape)));
    }
  }

  paramShapes(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const n of this.names) out[n] = [...this.params[n]!.shape];
    return out;
  }

  /**
   * Raw network output [B, P] for noisy inputs xt [B, P] at steps t [B]. `keep` [B, 1] (1 = use the
   * prompt, 0 = null prompt) implements prompt dropout and the unconditional half of guidance.
   */
  forward(p: ParamDict, xt: T2, t: tfTypes.Tensor1D, prompts: PromptBatch, keep?: Tensor): T2 {
    return tf.tidy(() => {
      const c = this.config;
      const B = xt.shape[0];
      const L = this.tokenizer.numTokens;
      const d = c.width;
      const P_ = (n: string) => {
        const v = p[n];
        if (!v) throw new Error(`denoiser: missing parameter "${n}"`);
        return v;
      };
      const mlp2 = (x: T2, prefix: string) => dense(silu(dense(x, P_(`${prefix}.w1`), P_(`${prefix}.b1`))) as T2, P_(`${prefix}.w2`), P_(`${prefix}.b2`));

      const step = mlp2(sinusoidalEmbedding(t, d, c.timeScale), 'step');
      const ctx: T2[] = []; // prompt embeddings [B, d]
      let spatialEmb: T2 | null = null;
      let temporalEmb: T2 | null = null;
      const embedPrompt = (x: T2 | null, dim: number, name: 'spatial' | 'temporal'): T2 | null => {
        if (dim === 0) return null;
        const nul = tf.reshape(P_(`${name}.null`), [1, d]);
        if (x === null) return tf.tile(nul, [B, 1]) as T2;
        if (x.shape[0] !== B || x.shape[1] !== dim) throw new Error(`denoiser: ${name} prompts must be [${B}, ${dim}], got [${x.shape}]`);
        const e = mlp2(x, name);
        if (!keep) return e;
        return tf.add(tf.mul(e, keep), tf.mul(nul, tf.sub(1, keep))) as T2;
      };
      spatialEmb = embedPrompt(prompts.spatial, c.spatialDim, 'spatial');
      temporalEmb = embedPrompt(prompts.temporal, c.temporalDim, 'temporal');
      if (spatialEmb) ctx.push(spatialEmb);
      if (temporalEmb) ctx.push(temporalEmb);

      // Token embedding + learned position of each token.
      const tokens = this.tokenizer.toTokens(xt);
      let h3 = tf.reshape(dense(tokens, P_('embed.w'), P_('embed.b')), [B, L, d]);
      const pos =
        c.tokenization.kind === 'layer-aware'
          ? tf.add(matMul2d(this.consts.posOneHot[0] as T2, P_('pos.entry') as T2), matMul2d(this.consts.posOneHot[1] as T2, P_('pos.chunk') as T2))
          : P_('pos.table');
      h3 = tf.add(h3, pos);
      const per = (e: T2) => tf.reshape(e, [B, 1, d]);
      if (c.strategy === 'pre-bias') {
        h3 = tf.add(h3, per(step));
        if (temporalEmb) h3 = tf.add(h3, per(temporalEmb));
        if (spatialEmb) h3 = tf.add(h3, tf.mul(this.consts.spatialMask, per(spatialEmb)));
      } else if (c.strategy === 'pre') {
        h3 = tf.add(h3, per(step));
        for (const e of ctx) h3 = tf.add(h3, per(e));
      } else if (c.strategy !== 'adaln') {
        h3 = tf.add(h3, per(step));
      }
      let h = tf.reshape(h3, [B * L, d]) as T2;

      // pre-adaptive: one condition per token, chosen by attention over the prompt embeddings.
      let tokenCondition: T2 | null = null;
      if (c.strategy === 'pre-adaptive' && ctx.length > 0) {
        const query = tf.tanh(dense(h, P_('adapt.w'), P_('adapt.b'))) as T2;
        tokenCondition = attendToContext(query, ctx, ctx, B, L, 1);
      }
      // adaln: one conditioning vector per example.
      let adaCond: T2 | null = null;
      if (c.strategy === 'adaln') {
        let sum: Tensor = step;
        for (const e of ctx) sum = tf.add(sum, e);
        adaCond = silu(sum) as T2;
      }
      const modulate = (x: T2, shift: Tensor, scale: Tensor) =>
        tf.reshape(tf.add(tf.mul(tf.reshape(x, [B, L, d]), tf.add(1, tf.reshape(scale, [B, 1, d]))), tf.reshape(shift, [B, 1, d])), [B * L, d]) as T2;
      const gated = (x: T2, gate: Tensor) => tf.reshape(tf.mul(tf.reshape(x, [B, L, d]), tf.reshape(gate, [B, 1, d])), [B * L, d]) as T2;

      for (let i = 0; i < c.depth; i++) {
        const b = `block${i}`;
        if (tokenCondition) h = tf.add(h, tokenCondition) as T2;
        let mods: Tensor[] | null = null;
        if (adaCond) mods = tf.split(dense(adaCond, P_(`${b}.ada.w`), P_(`${b}.ada.b`)), 6, 1);
        // Self-attention.
        let a = mods ? modulate(normalizeLastAxis(h) as T2, mods[0]!, mods[1]!) : layerNorm(h, P_(`${b}.ln1.g`), P_(`${b}.ln1.b`));
        const qkv = dense(a, P_(`${b}.qkv.w`), P_(`${b}.qkv.b`));
        const [q, k, v] = tf.split(qkv, 3, 1) as [T2, T2, T2];
        let att = dense(multiHeadAttention(q, k, v, B, L, c.heads), P_(`${b}.proj.w`), P_(`${b}.proj.b`));
        if (mods) att = gated(att, mods[2]!);
        h = tf.add(h, att) as T2;
        // Cross-attention to the prompts (post-adaptive).
        if (c.strategy === 'post-adaptive' && ctx.length > 0) {
          const xq = dense(layerNorm(h, P_(`${b}.lnx.g`), P_(`${b}.lnx.b`)), P_(`${b}.xq.w`), P_(`${b}.xq.b`));
          const keys = ctx.map((e) => dense(e, P_(`${b}.xk.w`), P_(`${b}.xk.b`)));
          const vals = ctx.map((e) => dense(e, P_(`${b}.xv.w`), P_(`${b}.xv.b`)));
          h = tf.add(h, dense(attendToContext(xq, keys, vals, B, L, c.heads), P_(`${b}.xo.w`), P_(`${b}.xo.b`))) as T2;
        }
        // MLP.
        a = mods ? modulate(normalizeLastAxis(h) as T2, mods[3]!, mods[4]!) : layerNorm(h, P_(`${b}.ln2.g`), P_(`${b}.ln2.b`));
        let m = dense(silu(dense(a, P_(`${b}.fc1.w`), P_(`${b}.fc1.b`))) as T2, P_(`${b}.fc2.w`), P_(`${b}.fc2.b`));
        if (mods) m = gated(m, mods[5]!);
        h = tf.add(h, m) as T2;
      }
      let out: T2;
      if (adaCond) {
        const [shift, scale] = tf.split(dense(adaCond, P_('final.ada.w'), P_('final.ada.b')), 2, 1);
        out = modulate(normalizeLastAxis(h) as T2, shift!, scale!);
      } else {
        out = layerNorm(h, P_('final.ln.g'), P_('final.ln.b'));
      }
      const outTokens = dense(out, P_('out.w'), P_('out.b'));
      return this.tokenizer.fromTokens(outTokens, B);
    });
  }

  /**
   * A DenoiseFn for the samplers, conditioned on fixed prompts (rows must match the sampler's batch).
   * guidance s != 1 runs the conditional and the null-prompt pass together and returns
   * uncond + s * (cond - uncond).
   */
  denoiseFn(prompts: PromptBatch, opts: { guidance?: number; params?: ParamDict } = {}): DenoiseFn {
    const s = opts.guidance ?? 1;
    const params = opts.params ?? this.params;
    if (s === 1) return (xt, t) => this.forward(params, xt, t, prompts);
    return (xt, t) =>
      tf.tidy(() => {
        const B = xt.shape[0];
        const both = (x: T2 | null) => (x ? (tf.concat([x, x], 0) as T2) : null);
        const keep = tf.concat([tf.ones([B, 1]), tf.zeros([B, 1])], 0);
        const out = this.forward(params, tf.concat([xt, xt], 0) as T2, tf.concat([t, t], 0) as tfTypes.Tensor1D, { spatial: both(prompts.spatial), temporal: both(prompts.temporal) }, keep);
        const [cond, uncond] = tf.split(out, 2, 0) as [T2, T2];
        return tf.add(uncond, tf.mul(tf.sub(cond, uncond), s)) as T2;
      });
  }

  /**
   * Multiply-adds of one forward pass per example (matMuls only: the "useful" FLOPs / 2), used by the
   * bench to express training speed as an efficiency.
   */
  forwardMacsPerExample(): number {
    const c = this.config;
    const L = this.tokenizer.numTokens;
    const d = c.width;
    const S = this.tokenizer.tokenSize;
    const perBlock = L * (3 * d * d + d * d + 2 * c.mlpRatio * d * d) + 2 * L * L * d;
    return L * S * d * 2 + c.depth * perBlock;
  }

  dispose(): void {
    for (const n of this.names) this.params[n]!.dispose();
    this.consts.spatialMask.dispose();
    for (const t of this.consts.posOneHot) t.dispose();
  }
}

let uid = 0;

function validateConfig(c: TransformerConfig): void {
  if (!CONDITIONING_STRATEGIES.includes(c.strategy)) {
    throw new Error(`unknown conditioning strategy "${c.strategy}" (expected one of ${CONDITIONING_STRATEGIES.join(', ')})`);
  }
  for (const k of ['width', 'depth', 'heads', 'mlpRatio'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`transformer config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.width % c.heads !== 0) throw new Error(`transformer config: width ${c.width} is not divisible by heads ${c.heads}`);
  for (const k of ['spatialDim', 'temporalDim'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) throw new Error(`transformer config: ${k} must be a non-negative integer, got ${c[k]}`);
  }
}

function initialParams(tok: Tokenizer, c: TransformerConfig, rng: Rng): Record<string, ParamInit> {
  const out: Record<string, ParamInit> = {};
  const d = c.width;
  const r = rng.fork('denoiser-init');
  const lin = (name: string, fin: number, fout: number, zero = false) => {
    out[`${name}.w`] = { shape: [fin, fout], values: zero ? new Float32Array(fin * fout) : xavierUniform(r, fin, fout) };
    out[`${name}.b`] = { shape: [fout], values: new Float32Array(fout) };
  };
  const ln = (name: string) => {
    out[`${name}.g`] = { shape: [d], values: new Float32Array(d).fill(1) };
    out[`${name}.b`] = { shape: [d], values: new Float32Array(d) };
  };
  const mlp = (name: string, fin: number) => {
    out[`${name}.w1`] = { shape: [fin, d], values: xavierUniform(r, fin, d) };
    out[`${name}.b1`] = { shape: [d], values: new Float32Array(d) };
    out[`${name}.w2`] = { shape: [d, d], values: xavierUniform(r, d, d) };
    out[`${name}.b2`] = { shape: [d], values: new Float32Array(d) };
  };
  // Position tables start large (std 0.5, not the usual 0.02): at high noise the token inputs carry
  // nothing, and the output of a token must still depend on which parameters it holds; with tiny
  // position embeddings every token looked alike for the first few hundred steps (measured).
  const normalTable = (name: string, rows: number) => (out[name] = { shape: [rows, d], values: r.normalArray(rows * d, 0, 0.5) });

  lin('embed', tok.tokenSize, d);
  if (c.tokenization.kind === 'layer-aware') {
    normalTable('pos.entry', tok.layout.entries.length);
    normalTable('pos.chunk', tok.maxChunks);
  } else {
    normalTable('pos.table', tok.numTokens);
  }
  mlp('step', d);
  if (c.spatialDim > 0) {
    mlp('spatial', c.spatialDim);
    out['spatial.null'] = { shape: [d], values: r.normalArray(d, 0, 0.02) };
  }
  if (c.temporalDim > 0) {
    mlp('temporal', c.temporalDim);
    out['temporal.null'] = { shape: [d], values: r.normalArray(d, 0, 0.02) };
  }
  if (c.strategy === 'pre-adaptive') lin('adapt', d, d);
  for (let i = 0; i < c.depth; i++) {
    const b = `block${i}`;
    if (c.strategy === 'adaln') lin(`${b}.ada`, d, 6 * d, true);
    else {
      ln(`${b}.ln1`);
      ln(`${b}.ln2`);
    }
    lin(`${b}.qkv`, d, 3 * d);
    lin(`${b}.proj`, d, d);
    if (c.strategy === 'post-adaptive') {
      ln(`${b}.lnx`);
      lin(`${b}.xq`, d, d);
      lin(`${b}.xk`, d, d);
      lin(`${b}.xv`, d, d);
      lin(`${b}.xo`, d, d);
    }
    lin(`${b}.fc1`, d, c.mlpRatio * d);
    lin(`${b}.fc2`, c.mlpRatio * d, d);
  }
  if (c.strategy === 'adaln') lin('final.ada', d, 2 * d, true);
  else ln('final.ln');
  lin('out', d, tok.tokenSize);
  return out;
}
