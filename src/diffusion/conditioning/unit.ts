/**
 * The contract between the Transformer denoiser and one conditioning strategy.
 *
 * The denoiser is a plain pre-LN transformer over parameter tokens; a strategy plugs into it at a
 * few fixed places, both when the parameters are created and in the forward pass:
 *
 *   init                                   forward
 *   embed, pos, step, prompt embeddings    tokens + positions         -> input()
 *   initBeforeBlocks()                     each block:                   beforeBlock()
 *   each block:                              norm(0) attention gate(0)
 *     norms.initBlock() (or ln1, ln2)                                    afterAttention()
 *     qkv, proj                              norm(1) MLP gate(1)
 *     initAfterAttention()                 final norm                    (norms.final or final.ln)
 *     fc1, fc2
 *   norms.initFinal() (or final.ln), out
 *
 * Parameters are created in exactly this order and the xavier draws come from one Rng stream, so
 * the order is part of the format: changing it changes every seeded init (and the names' order,
 * which serialisation and the optimiser state follow).
 */
import { tf } from '../../runtime/backend.js';
import type * as tfTypes from '@tensorflow/tfjs';

export type T2 = tfTypes.Tensor2D;
export type Tensor = tfTypes.Tensor;

/** Creates named parameters of the denoiser, in call order. */
export interface ParamBuilder {
  /** Model width d. */
  readonly width: number;
  /** `${name}.w` [fin, fout] (xavier-uniform, or zeros) and `${name}.b` [fout] (zeros). */
  linear(name: string, fin: number, fout: number, zero?: boolean): void;
  /** `${name}.g` [d] (ones) and `${name}.b` [d] (zeros). */
  layerNorm(name: string): void;
}

/** What a strategy sees of one forward pass (inside the denoiser's tidy). */
export interface ConditioningContext {
  /** Batch size, tokens per example, width, attention heads. */
  readonly B: number;
  readonly L: number;
  readonly d: number;
  readonly heads: number;
  /** Diffusion-step embedding [B, d]. */
  readonly step: T2;
  /** Prompt embeddings [B, d] (already the null embedding where keep = 0); null = that prompt is absent. */
  readonly spatial: T2 | null;
  readonly temporal: T2 | null;
  /** The present prompt embeddings, spatial first. */
  readonly prompts: T2[];
  /** [1, L, 1]: 1 for tokens that hold values of spatial-layer parameters. */
  readonly spatialMask: Tensor;
  /** A parameter by name (throws when missing). */
  param(name: string): Tensor;
}

/** A strategy's forward hooks, built once per forward pass (so they can share per-pass state). */
export interface ConditioningPass {
  /** Embedded tokens [B, L, d] (positions added) -> the first block's input; absent = unchanged. */
  input?(h: Tensor): Tensor;
  /** The residual stream [B * L, d] at the start of every block. */
  beforeBlock?(h: T2): T2;
  /** The residual stream of block `b` right after self-attention (the place for an extra sub-layer). */
  afterAttention?(h: T2, b: string): T2;
}

/** Normalisation of one block's two sub-layers (0 = attention, 1 = MLP) and the gate on their outputs. */
export interface BlockNorms {
  norm(h: T2, sublayer: 0 | 1): T2;
  gate(x: T2, sublayer: 0 | 1): T2;
}

/**
 * A replacement for the layer norms (block `ln1`/`ln2` and `final.ln`): its own parameters in their
 * place, and the per-pass normalisation of each block and of the output layer.
 */
export interface NormScheme {
  initBlock(p: ParamBuilder, b: string): void;
  initFinal(p: ParamBuilder): void;
  begin(ctx: ConditioningContext): { block(b: string): BlockNorms; final(h: T2): T2 };
}

export interface ConditioningUnit<N extends string = string> {
  readonly name: N;
  /** Parameters created after the prompt embeddings, before block 0. */
  initBeforeBlocks?(p: ParamBuilder): void;
  /** Parameters of block `b` created right after its attention projection. */
  initAfterAttention?(p: ParamBuilder, b: string): void;
  /** Replaces the denoiser's layer norms; absent = plain learned layer norms. */
  readonly norms?: NormScheme;
  begin(ctx: ConditioningContext): ConditioningPass;
}

/** Keeps the literal name type, so the registry can derive the strategy names from its units. */
export function defineConditioning<N extends string>(unit: ConditioningUnit<N>): ConditioningUnit<N> {
  return unit;
}

/** h [B, L, d] + e [B, d] broadcast over the tokens (times `mask` [1, L, 1] when given). */
export function addPerExample(ctx: ConditioningContext, h: Tensor, e: T2, mask?: Tensor): Tensor {
  const per = tf.reshape(e, [ctx.B, 1, ctx.d]);
  return tf.add(h, mask ? tf.mul(mask, per) : per);
}
