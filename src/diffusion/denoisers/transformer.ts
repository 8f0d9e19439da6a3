/**
 * Transformer denoiser over parameter tokens, conditioned on the prompts (GPD's generator network).
 *
 * The network is a pure function `forward(params, xt, t, prompts)` over a dict of tensors, so the
 * trainer can evaluate it with the raw weights, the EMA weights or the best-so-far weights alike.
 * Pre-LN blocks: h += Attn(LN(h)); h += MLP(LN(h)).
 *
 * How the prompts get in (GPD section 4.3) is the config's conditioning strategy: a unit from
 * ../conditioning/ (one file each) that owns its parameters and hooks into the input, the blocks and
 * the norms; this file has no strategy-specific code.
 * Classifier-free guidance: a learned null embedding replaces a prompt's embedding where keep = 0.
 */
import { tf } from '../../runtime/backend.js';
import type * as tfTypes from '@tensorflow/tfjs';
import type { ParamLayout } from '../../models/layout.js';
import { Rng } from '../../util/prng.js';
import type { DenoiseFn } from '../types.js';
import { Tokenizer, type TokenizationSpec } from '../tokenize.js';
import { dense, layerNorm, matMul2d, multiHeadAttention, silu, sinusoidalEmbedding, xavierUniform } from './layers.js';
import { conditioningUnit, type ConditioningStrategy } from '../conditioning/index.js';
import type { ConditioningContext, ConditioningUnit, NormScheme, ParamBuilder } from '../conditioning/unit.js';

// The strategy names belong to the conditioning registry; re-exported here beside TransformerConfig.
export { CONDITIONING_STRATEGIES, type ConditioningStrategy } from '../conditioning/index.js';

type T2 = tfTypes.Tensor2D;
type Tensor = tfTypes.Tensor;

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
  private readonly conditioning: ConditioningUnit;

  constructor(readonly layout: ParamLayout, readonly config: TransformerConfig, rng: Rng) {
    this.conditioning = conditioningUnit(config.strategy);
    validateConfig(config);
    this.tokenizer = new Tokenizer(layout, config.tokenization);
    const init = initialParams(this.tokenizer, config, this.conditioning, rng);
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
      const embedPrompt = (x: T2 | null, dim: number, name: 'spatial' | 'temporal'): T2 | null => {
        if (dim === 0) return null;
        const nul = tf.reshape(P_(`${name}.null`), [1, d]);
        if (x === null) return tf.tile(nul, [B, 1]) as T2;
        if (x.shape[0] !== B || x.shape[1] !== dim) throw new Error(`denoiser: ${name} prompts must be [${B}, ${dim}], got [${x.shape}]`);
        const e = mlp2(x, name);
        if (!keep) return e;
        return tf.add(tf.mul(e, keep), tf.mul(nul, tf.sub(1, keep))) as T2;
      };
      const spatial = embedPrompt(prompts.spatial, c.spatialDim, 'spatial');
      const temporal = embedPrompt(prompts.temporal, c.temporalDim, 'temporal');
      const ctx: ConditioningContext = {
        B, L, d, heads: c.heads, step, spatial, temporal,
        prompts: [spatial, temporal].filter((e): e is T2 => e !== null),
        spatialMask: this.consts.spatialMask,
        param: P_,
      };
      const cond = this.conditioning.begin(ctx);
      const norms = (this.conditioning.norms ?? LAYER_NORMS).begin(ctx);

      // Token embedding + learned position of each token.
      const tokens = this.tokenizer.toTokens(xt);
      let h3 = tf.reshape(dense(tokens, P_('embed.w'), P_('embed.b')), [B, L, d]);
      const pos =
        c.tokenization.kind === 'layer-aware'
          ? tf.add(matMul2d(this.consts.posOneHot[0] as T2, P_('pos.entry') as T2), matMul2d(this.consts.posOneHot[1] as T2, P_('pos.chunk') as T2))
          : P_('pos.table');
      h3 = tf.add(h3, pos);
      if (cond.input) h3 = cond.input(h3);
      let h = tf.reshape(h3, [B * L, d]) as T2;

      for (let i = 0; i < c.depth; i++) {
        const b = `block${i}`;
        if (cond.beforeBlock) h = cond.beforeBlock(h);
        const n = norms.block(b);
        // Self-attention.
        const qkv = dense(n.norm(h, 0), P_(`${b}.qkv.w`), P_(`${b}.qkv.b`));
        const [q, k, v] = tf.split(qkv, 3, 1) as [T2, T2, T2];
        h = tf.add(h, n.gate(dense(multiHeadAttention(q, k, v, B, L, c.heads), P_(`${b}.proj.w`), P_(`${b}.proj.b`)), 0)) as T2;
        if (cond.afterAttention) h = cond.afterAttention(h, b);
        // MLP.
        const m = dense(silu(dense(n.norm(h, 1), P_(`${b}.fc1.w`), P_(`${b}.fc1.b`))) as T2, P_(`${b}.fc2.w`), P_(`${b}.fc2.b`));
        h = tf.add(h, n.gate(m, 1)) as T2;
      }
      const out = norms.final(h);
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

/** The plain pre-LN transformer's learned layer norms, for strategies that do not replace them. */
const LAYER_NORMS: NormScheme = {
  initBlock: (p, b) => {
    p.layerNorm(`${b}.ln1`);
    p.layerNorm(`${b}.ln2`);
  },
  initFinal: (p) => p.layerNorm('final.ln'),
  begin: ({ param }) => ({
    block: (b) => ({
      norm: (h, k) => layerNorm(h, param(`${b}.ln${k + 1}.g`), param(`${b}.ln${k + 1}.b`)),
      gate: (x) => x,
    }),
    final: (h) => layerNorm(h, param('final.ln.g'), param('final.ln.b')),
  }),
};

function validateConfig(c: TransformerConfig): void {
  for (const k of ['width', 'depth', 'heads', 'mlpRatio'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`transformer config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.width % c.heads !== 0) throw new Error(`transformer config: width ${c.width} is not divisible by heads ${c.heads}`);
  for (const k of ['spatialDim', 'temporalDim'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) throw new Error(`transformer config: ${k} must be a non-negative integer, got ${c[k]}`);
  }
}

function initialParams(tok: Tokenizer, c: TransformerConfig, cond: ConditioningUnit, rng: Rng): Record<string, ParamInit> {
  const out: Record<string, ParamInit> = {};
  const d = c.width;
  const r = rng.fork('denoiser-init');
  const p: ParamBuilder = {
    width: d,
    linear: (name, fin, fout, zero = false) => {
      out[`${name}.w`] = { shape: [fin, fout], values: zero ? new Float32Array(fin * fout) : xavierUniform(r, fin, fout) };
      out[`${name}.b`] = { shape: [fout], values: new Float32Array(fout) };
    },
    layerNorm: (name) => {
      out[`${name}.g`] = { shape: [d], values: new Float32Array(d).fill(1) };
      out[`${name}.b`] = { shape: [d], values: new Float32Array(d) };
    },
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
  const norms = cond.norms ?? LAYER_NORMS;

  // The creation order is the Rng stream's order (see ../conditioning/unit.ts): do not reorder.
  p.linear('embed', tok.tokenSize, d);
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
  cond.initBeforeBlocks?.(p);
  for (let i = 0; i < c.depth; i++) {
    const b = `block${i}`;
    norms.initBlock(p, b);
    p.linear(`${b}.qkv`, d, 3 * d);
    p.linear(`${b}.proj`, d, d);
    cond.initAfterAttention?.(p, b);
    p.linear(`${b}.fc1`, d, c.mlpRatio * d);
    p.linear(`${b}.fc2`, c.mlpRatio * d, d);
  }
  norms.initFinal(p);
  p.linear('out', d, tok.tokenSize);
  return out;
}
