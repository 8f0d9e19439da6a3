/**
 * Graph WaveNet (the GPD paper's second base model) as a pure function of one flat parameter vector.
 *
 * Architecture (paper configuration, no biases anywhere): 1x1 start conv (inFeatures -> 32), 4 blocks x 2
 * layers of gated dilated temporal convs (kernel 2, dilations 1, 2), a 1x1 skip conv per layer, a diffusion
 * graph conv of order 2 over the forward and backward transition matrices [A, A^T], a residual add, batch
 * norm, then relu -> 1x1 end conv -> relu -> 1x1 end conv to outSteps. The input is left-padded with zeros
 * to the receptive field (13 steps).
 *
 * Facts of the reference forward this implementation exploits (outputs are identical):
 * - the skip path keeps only its last time step at the end, so each skip conv only needs the last step of
 *   its layer's gated output; the 8 skip convs then become ONE matMul over the concatenated last steps;
 * - the last layer's graph conv, residual add and batch norm feed nothing (the output is read from the skip
 *   path), so `gconv.7` and `bn.7` get zero gradient and are not computed;
 * - the residual of a layer is exactly the second tap of its dilated conv input.
 *
 * wasm-friendly formulation: activations stay node-major [n*B, T, C] so that temporal taps are rank-3
 * slices, channel mixing is one 2-D matMul on [n*B*T, C] rows and graph propagation is one 2-D matMul on
 * [n, B*T*C]; no conv2d, no einsum, no batched matMul, nothing above rank 4. (A channel-major variant,
 * [C, T*n*B] with `W @ X`, was measured ~15% slower: its extra transposes and pads outweigh its cheaper
 * slices.)
 *
 * Batch norm: the reference's flattened parameter vectors carry no running statistics, so a generated
 * vector must be a complete model on its own. The default `bnMode: 'affine'` normalises with the fixed
 * statistics mean 0 / variance 1 (exactly what the reference does in eval mode with fresh buffers) in both
 * training and inference, so what is trained is what is evaluated. `bnMode: 'batch'` uses batch statistics
 * (the reference's training-mode behaviour); its outputs depend on the batch. See docs/models.md.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { tf } from '../runtime/backend.js';
import { ParamLayout, type ParamSpec } from './layout.js';
import type { Forecaster, ModelDims } from './types.js';
import { matMul2dConstA, transposeTall } from './ops.js';
import { gwnFusedForward } from './gwn-fused.js';
import { convMap, identityMap, linearMap, type ReferenceMapping, type ReferenceOrder } from './reference.js';

/** Channel widths and depth of the paper configuration (residual = dilation = skip = end channels). */
export const GWN_CHANNELS = 32;
export const GWN_BLOCKS = 4;
export const GWN_LAYERS_PER_BLOCK = 2;
const LAYERS = GWN_BLOCKS * GWN_LAYERS_PER_BLOCK;
/** Diffusion terms per graph conv: x, P1 x, P1^2 x, P2 x, P2^2 x (order 2, two supports). */
const GCONV_TERMS = 5;
const BN_EPS = 1e-5;

/** Dilation of each of the 8 layers (kernel 2: 1, 2 repeated per block). */
export const GWN_DILATIONS: readonly number[] = Array.from({ length: LAYERS }, (_, i) => 2 ** (i % GWN_LAYERS_PER_BLOCK));
/** Receptive field in steps: 1 + sum of dilations = 13. */
export const GWN_RECEPTIVE_FIELD = 1 + GWN_DILATIONS.reduce((a, b) => a + b, 0);

export type GwnBatchNormMode = 'affine' | 'batch';

export interface GwnForwardOptions {
  training?: boolean;
  /** 'affine' (default): fixed statistics mean 0 / var 1; 'batch': batch statistics over (nodes, batch, time). */
  bnMode?: GwnBatchNormMode;
  /** Dropout rate after each graph conv, applied only when training (reference: 0.2). Default 0. */
  dropout?: number;
  /** tfjs seed for dropout (from Rng.tfSeed()); required when dropout is active. */
  seed?: number;
}

export interface GwnForecaster extends Forecaster {
  readonly name: 'gwn';
  forward(params: tfTypes.Tensor1D, x: tfTypes.Tensor4D, adjacency: tfTypes.Tensor2D, opts?: GwnForwardOptions): tfTypes.Tensor3D;
}

/** customGrad passes tensors and the save function through one variadic parameter list. */
type Arg = tfTypes.Tensor | tfTypes.GradSaveFunc;

const DEFAULT_DIMS: ModelDims = { inFeatures: 2, inSteps: 12, outSteps: 6 };

/**
 * Our layout follows the reference's named_parameters order minus the 8 never-used residual convs.
 * Weights are stored ready for `rows @ W` (input index first), not in PyTorch's [out, in, 1, k]:
 * filter/gate [tap, in, out]; skip, gconv, start, end [in, out]. gconv input index = term * 32 + channel
 * with terms (x, A-hop 1, A-hop 2, A^T-hop 1, A^T-hop 2), the reference's concatenation order.
 */
export function gwnParamSpecs(dims: ModelDims = DEFAULT_DIMS): ParamSpec[] {
  const C = GWN_CHANNELS;
  const conv = (fanIn: number) => ({ kind: 'uniform' as const, bound: 1 / Math.sqrt(fanIn) });
  const specs: ParamSpec[] = [];
  for (const kind of ['filter', 'gate'] as const) {
    for (let i = 0; i < LAYERS; i++) specs.push({ name: `${kind}.${i}`, shape: [2, C, C], init: conv(2 * C), role: 'temporal' });
  }
  // Contiguous skip convs: together they are the [8*32, 32] weight of the single skip matMul.
  for (let i = 0; i < LAYERS; i++) specs.push({ name: `skip.${i}`, shape: [C, C], init: conv(C), role: 'head' });
  for (let i = 0; i < LAYERS; i++) {
    specs.push({ name: `bn.${i}.weight`, shape: [C], init: { kind: 'const', value: 1 }, role: 'norm' });
    specs.push({ name: `bn.${i}.bias`, shape: [C], init: { kind: 'const', value: 0 }, role: 'norm' });
  }
  for (let i = 0; i < LAYERS; i++) {
    specs.push({ name: `gconv.${i}`, shape: [GCONV_TERMS * C, C], init: conv(GCONV_TERMS * C), role: 'spatial' });
  }
  specs.push({ name: 'start', shape: [dims.inFeatures, C], init: conv(dims.inFeatures), role: 'other' });
  specs.push({ name: 'end1', shape: [C, C], init: conv(C), role: 'head' });
  specs.push({ name: 'end2', shape: [C, dims.outSteps], init: conv(C), role: 'head' });
  return specs;
}

/**
 * x @ w for activations x [rows, k] and a weight w [k, m], backward with explicit transposes (the built-in
 * gradient's transpose flags are slow on wasm). dW = x^T dy is computed by transposing whichever of x and
 * dy has fewer columns (as (dy^T x)^T when dy is narrower): the transpose of a tall activation is the
 * costliest op of the backward, and for the graph conv x is 5x wider than dy.
 */
const matMulNarrowT = tf.customGrad((xIn: Arg, wIn: Arg, saveIn: Arg) => {
  const x = xIn as tfTypes.Tensor2D;
  const w = wIn as tfTypes.Tensor2D;
  (saveIn as tfTypes.GradSaveFunc)([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tfTypes.Tensor, saved: tfTypes.Tensor[]) => {
      const [sx, sw] = saved as [tfTypes.Tensor2D, tfTypes.Tensor2D];
      const g = dy as tfTypes.Tensor2D;
      const dx = tf.matMul(g, tf.transpose(sw));
      const dw = sx.shape[1] <= g.shape[1] ? tf.matMul(transposeTall(sx), g) : tf.transpose(tf.matMul(transposeTall(g), sx));
      return [dx, dw];
    },
  };
}) as unknown as (x: tfTypes.Tensor2D, w: tfTypes.Tensor2D) => tfTypes.Tensor2D;

/**
 * The WaveNet gate tanh(f) * sigmoid(g) from z = [2f | g] (the filter half arrives pre-scaled by 2, folded
 * into its weights): tanh(f) = 2 sigmoid(2f) - 1, and wasm's tanh is ~10x slower than its sigmoid, so one
 * sigmoid covers both halves. Hand-written backward: a few full-size elementwise ops and one concat
 * instead of autodiff's pads for the two column slices.
 */
const gatedActivation = tf.customGrad((zIn: Arg, saveIn: Arg) => {
  const z = zIn as tfTypes.Tensor2D;
  const [rows, width] = z.shape;
  const C = width / 2;
  const s = tf.sigmoid(z);
  const sf = tf.slice(s, [0, 0], [rows, C]);
  const sg = tf.slice(s, [0, C], [rows, C]);
  const f = tf.sub(tf.mul(sf, 2), 1); // tanh of the filter pre-activation
  (saveIn as tfTypes.GradSaveFunc)([s, f, sg]);
  return {
    value: tf.mul(f, sg),
    gradFunc: (dy: tfTypes.Tensor, saved: tfTypes.Tensor[]) => {
      const [ss, ff, gg] = saved as [tfTypes.Tensor2D, tfTypes.Tensor2D, tfTypes.Tensor2D];
      // d/dz of sigmoid is s(1-s) on both halves; the outer factors are 2*sg (filter) and f (gate).
      const outer = tf.concat([tf.mul(dy, tf.mul(gg, 2)), tf.mul(dy, ff)], 1);
      return tf.mul(outer, tf.mul(ss, tf.sub(1, ss)));
    },
  };
}) as unknown as (z: tfTypes.Tensor2D) => tfTypes.Tensor2D;

/** [I; A^T; (A^T)^2; A; A^2] stacked [5n, n]: left-multiplying node-major activations gives the 5 terms. */
function diffusionStack(adjacency: tfTypes.Tensor2D): tfTypes.Tensor2D {
  // The reference's nconv computes out[w] = sum_v A[v, w] x[v], i.e. A^T applied from the left.
  const n = adjacency.shape[0];
  const at = tf.transpose(adjacency);
  return tf.concat([tf.eye(n), at, tf.matMul(at, at), adjacency, tf.matMul(adjacency, adjacency)], 0) as tfTypes.Tensor2D;
}

export interface GwnOptions {
  /**
   * How the forward runs (both compute the same function):
   * - 'fused' (default): one custom-gradient op with a hand-written backward (gwn-fused.ts), used for
   *   the affine batch-norm mode without dropout (what the bank, fine-tuning and evaluation run); the
   *   batch-statistics mode and dropout fall back to 'autodiff'.
   * - 'autodiff': the taped forward below (tfjs autodiff); the cross-check of the fused backward.
   */
  engine?: 'fused' | 'autodiff';
}

export function createGwn(dims: Partial<ModelDims> = {}, options: GwnOptions = {}): GwnForecaster {
  const d: ModelDims = { ...DEFAULT_DIMS, ...dims };
  for (const [k, v] of Object.entries(d)) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`createGwn: ${k} must be a positive integer, got ${v}`);
  }
  const layout = new ParamLayout('gwn', gwnParamSpecs(d));
  const C = GWN_CHANNELS;
  const RF = GWN_RECEPTIVE_FIELD;
  // Split points of the flat vector: each group is contiguous in the layout, so one tf.split (whose
  // gradient is one concat) unpacks everything.
  const groups = [
    { key: 'filter', size: LAYERS * 2 * C * C },
    { key: 'gate', size: LAYERS * 2 * C * C },
    { key: 'skip', size: LAYERS * C * C },
    { key: 'bn', size: LAYERS * 2 * C },
    { key: 'gconv', size: LAYERS * GCONV_TERMS * C * C },
    { key: 'start', size: d.inFeatures * C },
    { key: 'end1', size: C * C },
    { key: 'end2', size: C * d.outSteps },
  ];
  if (groups.reduce((a, g) => a + g.size, 0) !== layout.size) throw new Error('gwn: internal layout/group size mismatch');
  if (layout.entry('start').offset !== groups.slice(0, 5).reduce((a, g) => a + g.size, 0)) {
    throw new Error('gwn: internal layout order mismatch');
  }

  const fused =
    (options.engine ?? 'fused') === 'fused'
      ? gwnFusedForward({ layout, dims: d, channels: C, dilations: GWN_DILATIONS, receptiveField: RF, bnEps: BN_EPS })
      : null;

  function forward(
    params: tfTypes.Tensor1D,
    x: tfTypes.Tensor4D,
    adjacency: tfTypes.Tensor2D,
    opts: GwnForwardOptions = {},
  ): tfTypes.Tensor3D {
    if (params.rank !== 1 || params.shape[0] !== layout.size) {
      throw new Error(`gwn.forward: params must be a vector of ${layout.size} values, got shape [${params.shape}]`);
    }
    if (x.rank !== 4 || x.shape[2] !== d.inSteps || x.shape[3] !== d.inFeatures) {
      throw new Error(`gwn.forward: x must be [B, n, ${d.inSteps}, ${d.inFeatures}], got [${x.shape}]`);
    }
    const [B, n] = x.shape;
    if (adjacency.rank !== 2 || adjacency.shape[0] !== n || adjacency.shape[1] !== n) {
      throw new Error(`gwn.forward: adjacency must be [${n}, ${n}] for ${n} nodes, got [${adjacency.shape}]`);
    }
    const training = opts.training ?? false;
    const bnMode = opts.bnMode ?? 'affine';
    const dropout = training ? (opts.dropout ?? 0) : 0;
    if (!(dropout >= 0 && dropout < 1)) throw new Error(`gwn.forward: dropout must be in [0, 1), got ${opts.dropout}`);
    if (dropout > 0 && !(opts.seed !== undefined && opts.seed !== 0)) {
      throw new Error('gwn.forward: dropout needs a non-zero seed (use Rng.tfSeed())');
    }
    if (fused && bnMode === 'affine' && dropout === 0) return fused(params, x, adjacency);

    return tf.tidy(() => {
      const parts = tf.split(params, groups.map((g) => g.size));
      const P: Record<string, tfTypes.Tensor> = {};
      groups.forEach((g, k) => (P[g.key] = parts[k]!));
      // Filter and gate of a layer share one matMul: [tap*in, filter out | gate out].
      // Filter and gate of a layer share one matMul: [tap*in, 2*filter out | gate out] (see gatedActivation).
      const fgAll = tf.concat([tf.mul(tf.reshape(P.filter!, [LAYERS, 2 * C, C]), 2), tf.reshape(P.gate!, [LAYERS, 2 * C, C])], 2);
      const fg = tf.split(fgAll, LAYERS, 0).map((w) => tf.reshape(w, [2 * C, 2 * C]) as tfTypes.Tensor2D);
      const gconvW = tf.split(P.gconv!, LAYERS, 0).map((w) => tf.reshape(w, [GCONV_TERMS * C, C]) as tfTypes.Tensor2D);
      // bn group = per layer [weight(32), bias(32)].
      const bnParts = tf.split(P.bn!, 2 * LAYERS, 0);
      const bnW = bnParts.filter((_, k) => k % 2 === 0);
      const bnB = bnParts.filter((_, k) => k % 2 === 1);

      const stack = diffusionStack(adjacency);

      // Node-major input [n*B, steps, F], cut or left-padded to the receptive field. Rank-3 activations
      // keep the temporal taps cheap slices; rows are (node, sample), so graph propagation is a plain
      // matMul on [n, B*T*C].
      const NB = n * B;
      let inp = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [NB, d.inSteps, d.inFeatures]) as tfTypes.Tensor3D;
      if (d.inSteps > RF) inp = tf.slice(inp, [0, d.inSteps - RF, 0], [NB, RF, d.inFeatures]);
      else if (d.inSteps < RF) inp = tf.pad(inp, [[0, 0], [RF - d.inSteps, 0], [0, 0]]);
      let h = tf.reshape(
        matMul2dConstA(tf.reshape(inp, [NB * RF, d.inFeatures]), tf.reshape(P.start!, [d.inFeatures, C])),
        [NB, RF, C],
      ) as tfTypes.Tensor3D;

      let steps = RF;
      const skipTaps: tfTypes.Tensor3D[] = [];
      for (let i = 0; i < LAYERS; i++) {
        const dil = GWN_DILATIONS[i]!;
        const out = steps - dil;
        const rows = NB * out;
        const early = tf.slice(h, [0, 0, 0], [NB, out, C]);
        const late = tf.slice(h, [0, dil, 0], [NB, out, C]);
        const pre = matMulNarrowT(tf.reshape(tf.concat([early, late], 2), [rows, 2 * C]), fg[i]!);
        const gated = gatedActivation(pre);
        skipTaps.push(tf.slice(tf.reshape(gated, [NB, out, C]) as tfTypes.Tensor3D, [0, out - 1, 0], [NB, 1, C]));
        steps = out;
        if (i === LAYERS - 1) break; // its graph conv / residual / norm feed nothing

        // Diffusion graph conv: propagate over nodes (5 terms stacked on rows), bring the terms next to
        // the channels (one rank-4 transpose), mix with one matMul.
        const terms = matMul2dConstA(stack, tf.reshape(gated, [n, B * out * C]));
        const termsRows = tf.reshape(tf.transpose(tf.reshape(terms, [GCONV_TERMS, n, B * out, C]), [1, 2, 0, 3]), [
          rows,
          GCONV_TERMS * C,
        ]) as tfTypes.Tensor2D;
        let g = matMulNarrowT(termsRows, gconvW[i]!);
        if (dropout > 0) g = tf.dropout(g, dropout, undefined, opts.seed! + i) as tfTypes.Tensor2D;
        // Residual: the layer input aligned to the output's steps is exactly the late tap.
        let y = tf.add(tf.reshape(g, [NB, out, C]), late) as tfTypes.Tensor3D;
        if (bnMode === 'batch') {
          const { mean, variance } = tf.moments(y, [0, 1]);
          y = tf.add(tf.mul(tf.sub(y, mean), tf.mul(tf.rsqrt(tf.add(variance, BN_EPS)), bnW[i]!)), bnB[i]!);
        } else {
          y = tf.add(tf.mul(y, tf.mul(bnW[i]!, 1 / Math.sqrt(1 + BN_EPS))), bnB[i]!);
        }
        h = y;
      }

      const skipIn = tf.reshape(tf.concat(skipTaps, 2), [NB, LAYERS * C]) as tfTypes.Tensor2D;
      const skip = matMulNarrowT(skipIn, tf.reshape(P.skip!, [LAYERS * C, C]));
      const e1 = tf.relu(matMulNarrowT(tf.relu(skip), tf.reshape(P.end1!, [C, C])));
      const e2 = matMulNarrowT(e1, tf.reshape(P.end2!, [C, d.outSteps]));
      return tf.transpose(tf.reshape(e2, [n, B, d.outSteps]), [1, 0, 2]) as tfTypes.Tensor3D;
    });
  }

  return { name: 'gwn', dims: d, layout, outputLayer: 'end2', forward };
}

/**
 * Multiply-adds x2 of one training step (forward + backward ~ 2x forward) at this batch and subgraph size,
 * counting the work this implementation does (last-step skip convs, no dead last graph conv).
 */
export function gwnFlopsPerStep(batch: number, n: number, dims: Partial<ModelDims> = {}): number {
  const d = { ...DEFAULT_DIMS, ...dims };
  const C = GWN_CHANNELS;
  let fwd = batch * n * GWN_RECEPTIVE_FIELD * d.inFeatures * C;
  let steps = GWN_RECEPTIVE_FIELD;
  for (let i = 0; i < LAYERS; i++) {
    steps -= GWN_DILATIONS[i]!;
    const rows = batch * n * steps;
    fwd += rows * 2 * C * 2 * C; // filter + gate
    if (i < LAYERS - 1) {
      fwd += (GCONV_TERMS - 1) * n * rows * C; // 4 diffusion terms over n nodes
      fwd += rows * GCONV_TERMS * C * C; // graph conv channel mix
    }
  }
  fwd += batch * n * (LAYERS * C * C + C * C + C * d.outSteps); // skip + end convs
  return 2 * fwd * 3;
}

/**
 * Our entries <-> the reference v_GWN's named_parameters (PyTorch shapes). Dilated convs [out, in, 1, 2]
 * become [tap, in, out]; 1x1 convs [out, in, 1, 1] become [in, out] (a transpose, as for a Linear).
 * The reference's residual_convs are never used by its forward and have no entry here: they are skipped on
 * import and written as zeros on export.
 */
export function gwnReferenceMapping(): ReferenceMapping {
  const m: ReferenceMapping = [];
  for (let i = 0; i < LAYERS; i++) m.push(convMap(`filter_convs.${i}.weight`, `filter.${i}`));
  for (let i = 0; i < LAYERS; i++) m.push(convMap(`gate_convs.${i}.weight`, `gate.${i}`));
  for (let i = 0; i < LAYERS; i++) m.push(linearMap(`skip_convs.${i}.weight`, `skip.${i}`));
  for (let i = 0; i < LAYERS; i++) {
    m.push(identityMap(`bn.${i}.weight`, `bn.${i}.weight`));
    m.push(identityMap(`bn.${i}.bias`, `bn.${i}.bias`));
  }
  for (let i = 0; i < LAYERS; i++) m.push(linearMap(`gconv.${i}.mlp.mlp.weight`, `gconv.${i}`));
  m.push(linearMap('start_conv.weight', 'start'));
  m.push(linearMap('end_conv_1.weight', 'end1'));
  m.push(linearMap('end_conv_2.weight', 'end2'));
  return m;
}

/**
 * The reference's named_parameters() order and shapes (91,904 values at the paper dims, including the 8
 * unused residual convs): the layout of one row of its flattened GWN parameter banks.
 */
export function gwnReferenceOrder(dims: Partial<ModelDims> = {}): ReferenceOrder {
  const d = { ...DEFAULT_DIMS, ...dims };
  const C = GWN_CHANNELS;
  const order: ReferenceOrder = [];
  for (const kind of ['filter_convs', 'gate_convs']) {
    for (let i = 0; i < LAYERS; i++) order.push({ name: `${kind}.${i}.weight`, shape: [C, C, 1, 2] });
  }
  for (const kind of ['residual_convs', 'skip_convs']) {
    for (let i = 0; i < LAYERS; i++) order.push({ name: `${kind}.${i}.weight`, shape: [C, C, 1, 1] });
  }
  for (let i = 0; i < LAYERS; i++) {
    order.push({ name: `bn.${i}.weight`, shape: [C] }, { name: `bn.${i}.bias`, shape: [C] });
  }
  for (let i = 0; i < LAYERS; i++) order.push({ name: `gconv.${i}.mlp.mlp.weight`, shape: [C, GCONV_TERMS * C, 1, 1] });
  order.push({ name: 'start_conv.weight', shape: [C, d.inFeatures, 1, 1] });
  order.push({ name: 'end_conv_1.weight', shape: [C, C, 1, 1] });
  order.push({ name: 'end_conv_2.weight', shape: [d.outSteps, C, 1, 1] });
  return order;
}
