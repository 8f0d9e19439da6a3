/**
 * STGCN (bias-free variant, the GPD paper's base model) as a pure function of a flat parameter vector.
 *
 * Architecture (facts from the reference STGCN_NonBias): gated temporal block (3 bias-free 1x4 convs,
 * relu(sigmoid(c3) * (c1 + c2))) F -> 32 channels; graph conv A_hat · t · Theta (32 -> 8) + relu;
 * gated temporal block 8 -> 32; gated temporal block 32 -> 32; bias-free linear over the remaining
 * (inSteps - 9) steps x 32 channels (time-major flatten) -> outSteps.
 *
 * Speed choices (wasm; the default 'fused' engine, see StgcnOptions):
 * - The whole network is ONE tf.customGrad op with a hand-written backward: a taped op costs ~35 us of
 *   engine bookkeeping plus a copy of every tensor it saves, an untaped kernel ~3-10 us.
 * - Every temporal conv is im2col + exact-size matMuls: ops.ts selectionIm2col duplicates the taps by a
 *   constant 0/1 matMul along time on a channel-major view and one rank-3 transpose (no JS slice or
 *   concat loops), and its adjoint selectionCol2im gives the input gradient. The selection matMuls add
 *   7% to the useful FLOPs; the dense block-Toeplitz matMuls used before did 2.25x / 1.5x the useful
 *   work in blocks 2 / 3 (executed 1.69x the useful FLOPs per step, now 1.07x).
 * - c1(x) + c2(x) = (W1 + W2) x: each gated block computes value and gate with two matMuls, a third
 *   fewer FLOPs than three convs. Value and gate are separate matMuls because splitting the columns
 *   of one product runs as a JS loop on wasm and costs more than the matMul itself.
 * - The parameter vector is read to JS once per call and every weight is uploaded on its own (W1 + W2
 *   summed in JS): wasm's Slice, and so tf.split, copies its whole input out of the heap per piece.
 * - The wasm matMul (XNNPACK fully-connected) re-packs its RIGHT operand on every call unless that
 *   tensor was the right operand before: ~3.5 ns per element, e.g. [64,1152]@[1152,128] takes 1.1 ms
 *   with a fresh right operand vs 0.6 ms with a cached one. So right operands are kept small where
 *   there is a choice: weights in the forward and input gradients, the adjacency in node mixing (node
 *   index as the last axis). Weight gradients contract over all rows, so one tall operand is packed
 *   whichever way they are written (see gatedBlockBackward).
 * - Series are sample-major (row b*n + i) and features time-major (t, c): Theta is a plain matMul on
 *   [rows*steps, 32], the head sees the reference's (t, c) flatten order, and the output needs no
 *   transpose. Theta is applied before the node mixing (they commute), so mixing runs on 8 channels.
 * - Measured (bench/models.ts --baseline <previous stgcn.ts>, batch 64, 6 nodes, CPU time, best of
 *   10 interleaved rounds, one run on a loaded machine, plain matMul 32.6 GFLOP/s): 8.0 ms per
 *   training step vs 10.1 ms for the Toeplitz engine it replaced, efficiency 0.38 vs 0.30. Where the
 *   time goes (tf.profile, per step): matMul kernels ~4.4 ms (the useful FLOPs alone would take ~3 ms
 *   at the plain matMul rate), of which ~1.0 ms is re-packing the tall right operands of the weight
 *   gradients and ~0.45 ms the selection matMuls; 33 transposes 0.8-0.9 ms; elementwise gate ops
 *   0.9 ms; copies of the 19 saved tensors 0.25 ms; ~1.2 ms of per-kernel engine overhead and GC for
 *   ~200 kernels (loss and Adam included).
 */
import { tf } from '../runtime/backend.js';
import { ParamLayout, type ParamSpec } from './layout.js';
import type { Forecaster, ModelDims } from './types.js';
import {
  fromNodeMajor,
  gluRelu,
  matMul2d,
  matMul2dConstA,
  propagateNodes,
  splitParams,
  splitParamGroups,
  temporalIm2col,
  toNodeMajor,
  selectionCol2im,
  selectionCol2imChannelMajor,
  selectionIm2col,
  toeplitzConvWeight,
} from './ops.js';
import { convMap, identityMap, linearMap, type ReferenceMapping, type ReferenceOrder } from './reference.js';

const KERNEL = 4;
const HIDDEN = 32;
const SPATIAL = 8;
/** Three valid 1x4 convolutions shorten the series by 3 steps each. */
const STEPS_LOST = 3 * (KERNEL - 1);

export const STGCN_DEFAULT_DIMS: ModelDims = { inFeatures: 2, inSteps: 12, outSteps: 6 };

const GATED_BLOCKS = ['block1.temporal1', 'block1.temporal2', 'last_temporal'] as const;

function resolveDims(dims?: Partial<ModelDims>): ModelDims {
  const d = { ...STGCN_DEFAULT_DIMS, ...dims };
  for (const [k, v] of Object.entries(d)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`STGCN dims: ${k} must be a positive integer, got ${v}`);
  }
  if (d.inSteps <= STEPS_LOST) throw new Error(`STGCN needs inSteps > ${STEPS_LOST} (three 1x${KERNEL} convolutions), got ${d.inSteps}`);
  return d;
}

/**
 * Layout in the reference's named_parameters() order. Conv weights are stored as [K, in, out]
 * (im2col order), Theta as the reference's [32, 8], the head as [in, out]. Inits are PyTorch's:
 * Conv2d kaiming_uniform(a=sqrt(5)) = U(±1/sqrt(in*K)); Theta U(±1/sqrt(8)) (reference
 * reset_parameters uses its second dimension); the head is xavier_uniform U(±sqrt(6/(in+out))), which
 * the reference's init_weights sets explicitly instead of Linear's default.
 */
export function stgcnLayout(dims?: Partial<ModelDims>): ParamLayout {
  const d = resolveDims(dims);
  const conv = (name: string, inC: number): ParamSpec => ({
    name,
    shape: [KERNEL, inC, HIDDEN],
    init: { kind: 'uniform', bound: 1 / Math.sqrt(inC * KERNEL) },
    role: 'temporal',
  });
  const specs: ParamSpec[] = [
    { name: 'block1.Theta1', shape: [HIDDEN, SPATIAL], init: { kind: 'uniform', bound: 1 / Math.sqrt(SPATIAL) }, role: 'spatial' },
  ];
  const inChannels = [d.inFeatures, SPATIAL, HIDDEN];
  GATED_BLOCKS.forEach((block, i) => {
    for (const c of ['conv1', 'conv2', 'conv3']) specs.push(conv(`${block}.${c}`, inChannels[i]!));
  });
  const headIn = (d.inSteps - STEPS_LOST) * HIDDEN;
  specs.push({
    name: 'fully',
    shape: [headIn, d.outSteps],
    init: { kind: 'uniform', bound: Math.sqrt(6 / (headIn + d.outSteps)) },
    role: 'head',
  });
  return new ParamLayout('stgcn', specs);
}

/** Reference STGCN_NonBias parameter names <-> our layout entries. */
export const stgcnReferenceMapping: ReferenceMapping = [
  identityMap('block1.Theta1', 'block1.Theta1'),
  ...GATED_BLOCKS.flatMap((block) => ['conv1', 'conv2', 'conv3'].map((c) => convMap(`${block}.${c}.weight`, `${block}.${c}`))),
  linearMap('fully.weight', 'fully'),
];

/**
 * The reference STGCN_NonBias's named_parameters() order and PyTorch shapes (16,960 values at the
 * paper dims): one row of its flattened banks, and the tensor names an exported model carries.
 */
export function stgcnReferenceOrder(dims?: Partial<ModelDims>): ReferenceOrder {
  const d = resolveDims(dims);
  const inChannels = [d.inFeatures, SPATIAL, HIDDEN];
  return [
    { name: 'block1.Theta1', shape: [HIDDEN, SPATIAL] },
    ...GATED_BLOCKS.flatMap((block, i) => ['conv1', 'conv2', 'conv3'].map((c) => ({ name: `${block}.${c}.weight`, shape: [HIDDEN, inChannels[i]!, 1, KERNEL] }))),
    { name: 'fully.weight', shape: [d.outSteps, (d.inSteps - STEPS_LOST) * HIDDEN] },
  ];
}

/** [K*in, 2*out] weight [W1 + W2 | W3] of a gated block (one matMul computes value and gate). */
function gatedWeight(p: Record<string, tf.Tensor>, block: string): tf.Tensor2D {
  const w = (c: string) => {
    const t = p[`${block}.${c}`]!;
    return tf.reshape(t, [t.shape[0]! * t.shape[1]!, t.shape[2]!]) as tf.Tensor2D;
  };
  return tf.concat([tf.add(w('conv1'), w('conv2')), w('conv3')], 1) as tf.Tensor2D;
}

/** Folds the three convs [conv1; conv2; conv3] of a block into [conv1 + conv2; conv3]. */
const FOLD = [
  [1, 1, 0],
  [0, 0, 1],
];

export interface StgcnOptions {
  /**
   * How the forward runs (all three compute the same function):
   * - 'fused' (default): one custom-gradient op for the whole network with a hand-written backward
   *   (no per-op tape bookkeeping); every block as im2col by constant time-selection matMuls, exact-size
   *   value and gate matMuls. Gradients flow to `params` only.
   * - 'toeplitz': dense block-Toeplitz conv matrices as separate ops with tfjs autodiff (an independent
   *   cross-check of the fused backward).
   * - 'im2col': slices + concat + matMul per block with autodiff; slowest on wasm (JS slice loops).
   * Measured per training step (batch 64, 6 nodes, wasm, CPU time, one run): fused 8.0 ms,
   * toeplitz 13.1 ms, im2col 16.5 ms (bench/models.ts).
   */
  conv?: 'fused' | 'toeplitz' | 'im2col';
}

/**
 * Value and gate weights [K*C, 32] of a gated block from its flat [conv1; conv2; conv3] group (each
 * [K, C, 32]), folded in JS: value = conv1 + conv2, gate = conv3.
 */
function gatedWeights(group: Float32Array, kc: number): [tf.Tensor2D, tf.Tensor2D] {
  const size = kc * HIDDEN;
  const value = new Float32Array(size);
  for (let i = 0; i < size; i++) value[i] = group[i]! + group[size + i]!;
  return [tf.tensor2d(value, [kc, HIDDEN]), tf.tensor2d(group.subarray(2 * size, 3 * size), [kc, HIDDEN])];
}

/**
 * Backward of one gated block `h = relu(sigmoid(cols @ Wg) * (cols @ Wv))`: the gradients of its
 * conv1, conv2 (both d(Wv)) and conv3 (d(Wg)) entries, flat, and unless the block reads data, d(cols).
 * Weight gradients as d(W)^T = dv^T @ cols and dg^T @ cols after two cheap [M, 32] transposes: wasm
 * packs the right operand `cols` once and reuses it for the second product (same tensor). The
 * alternative cols^T @ [dv | dg] packs a right operand half the size in block 3, but needs cols^T (a
 * 2-D transpose of a 128-column matrix runs at ~3 ns per element on wasm, 10x one of 32 columns) and a
 * column concat; measured 0.3 ms slower per step including building it.
 */
function gatedBlockBackward(
  dh: tf.Tensor2D, v: tf.Tensor2D, s: tf.Tensor2D, h: tf.Tensor2D, cols: tf.Tensor2D,
  weights: [tf.Tensor2D, tf.Tensor2D] | null,
): [tf.Tensor[], tf.Tensor2D | null] {
  const [dv, dg] = gateBackward(dh, v, s, h);
  const dW = (dz: tf.Tensor2D) => tf.reshape(tf.transpose(tf.matMul(tf.transpose(dz), cols)), [-1]); // [(k, c), o]
  const dWv = dW(dv);
  const dConvs = [dWv, dWv, dW(dg)];
  if (!weights) return [dConvs, null];
  const [wv, wg] = weights;
  const dCols = tf.add(tf.matMul(dv, tf.transpose(wv)), tf.matMul(dg, tf.transpose(wg))) as tf.Tensor2D;
  return [dConvs, dCols];
}

/** relu(sigmoid(g) * v) given v and the gate's pre-activation; returns [sigmoid(g), output]. */
function gateForward(v: tf.Tensor2D, g: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  const s = tf.sigmoid(g) as tf.Tensor2D;
  return [s, tf.relu(tf.mul(s, v)) as tf.Tensor2D];
}

/**
 * Backward of gateForward: d(value) and d(gate pre-activation) from d(output). Uses h (the output)
 * for the relu mask and in place of p = s*v: wherever h != p the mask zeroes the product anyway.
 */
function gateBackward(dh: tf.Tensor2D, v: tf.Tensor2D, s: tf.Tensor2D, h: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  const dv = tf.mul(tf.mul(dh, tf.step(h)), s) as tf.Tensor2D;
  return [dv, tf.mul(dv, tf.sub(v, h)) as tf.Tensor2D];
}

export function createStgcn(dims?: Partial<ModelDims>, options: StgcnOptions = {}): Forecaster {
  const d = resolveDims(dims);
  const layout = stgcnLayout(d);
  const mode = options.conv ?? 'fused';
  const t1 = d.inSteps - (KERNEL - 1);
  const t2 = t1 - (KERNEL - 1);
  const t3 = t2 - (KERNEL - 1);
  const groups = [
    ['block1.Theta1'],
    ...GATED_BLOCKS.map((b) => ['conv1', 'conv2', 'conv3'].map((c) => `${b}.${c}`)),
    ['fully'],
  ];
  const specs = [
    { steps: d.inSteps, inChannels: d.inFeatures },
    { steps: t1, inChannels: SPATIAL },
    { steps: t2, inChannels: HIDDEN },
  ].map((s) => ({ ...s, kernel: KERNEL, outChannels: HIDDEN, parts: 2, mix: FOLD }));

  const check = (x: tf.Tensor4D, adjacency: tf.Tensor2D) => {
    const [, n, T, F] = x.shape;
    if (T !== d.inSteps || F !== d.inFeatures) {
      throw new Error(`STGCN forward: input is [${x.shape}], expected [batch, nodes, ${d.inSteps}, ${d.inFeatures}]`);
    }
    if (adjacency.shape[0] !== n || adjacency.shape[1] !== n) {
      throw new Error(`STGCN forward: adjacency is [${adjacency.shape}], expected [${n}, ${n}] for ${n} nodes`);
    }
  };

  // Rows are node-major series (ops.ts); features are time-major (t, c) so Theta is a plain matMul
  // on [rows*steps, 32] and the head sees the reference's (t, c) flatten order.
  const forwardToeplitz = (params: tf.Tensor1D, x: tf.Tensor4D, adjacency: tf.Tensor2D): tf.Tensor3D => {
    check(x, adjacency);
    const [B, n, T, F] = x.shape;
    const N = n * B;
    const [theta, g1, g2, g3, fully] = splitParamGroups(params, layout, groups) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    const blockWeight = (g: tf.Tensor1D, i: number) => toeplitzConvWeight(g, specs[i]!);
    const xRows = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [N, T * F]) as tf.Tensor2D;
    let h = gluRelu(matMul2dConstA(xRows, blockWeight(g1, 0)));
    h = matMul2d(tf.reshape(h, [N * t1, HIDDEN]), tf.reshape(theta, [HIDDEN, SPATIAL]));
    h = tf.reshape(tf.relu(propagateNodes(adjacency, h)), [N, t1 * SPATIAL]);
    h = gluRelu(matMul2d(h, blockWeight(g2, 1)));
    h = gluRelu(matMul2d(h, blockWeight(g3, 2)));
    const y = matMul2d(h, tf.reshape(fully, [t3 * HIDDEN, d.outSteps]));
    return fromNodeMajor(y, B);
  };

  const forwardIm2col = (params: tf.Tensor1D, x: tf.Tensor4D, adjacency: tf.Tensor2D): tf.Tensor3D => {
    check(x, adjacency);
    const [B, n] = x.shape;
    const N = n * B;
    const p = splitParams(params, layout);
    let h = gluRelu(matMul2dConstA(temporalIm2col(toNodeMajor(x), KERNEL), gatedWeight(p, GATED_BLOCKS[0])));
    h = matMul2d(h, p['block1.Theta1'] as tf.Tensor2D);
    h = tf.relu(propagateNodes(adjacency, h));
    h = gluRelu(matMul2d(temporalIm2col(tf.reshape(h, [N, t1, SPATIAL]), KERNEL), gatedWeight(p, GATED_BLOCKS[1])));
    h = gluRelu(matMul2d(temporalIm2col(tf.reshape(h, [N, t2, HIDDEN]), KERNEL), gatedWeight(p, GATED_BLOCKS[2])));
    const y = matMul2d(tf.reshape(h, [N, t3 * HIDDEN]), p['fully'] as tf.Tensor2D);
    return fromNodeMajor(y, B);
  };

  const sizes = groups.map((g) => g.reduce((sum, name) => sum + layout.entry(name).size, 0));
  const offsets = groups.map((g) => layout.entry(g[0]!).offset);
  const forwardFused = (params: tf.Tensor1D, x: tf.Tensor4D, adjacency: tf.Tensor2D): tf.Tensor3D => {
    check(x, adjacency);
    const [B, n, T, F] = x.shape;
    const N = n * B;
    const H = d.outSteps;
    const op = tf.customGrad((pIn: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
      // The weights are read to JS once and uploaded piece by piece: on wasm, tf.split runs one Slice
      // per piece and each Slice copies the WHOLE input vector out of the heap first.
      const pv = (pIn as tf.Tensor1D).dataSync() as Float32Array;
      const piece = (g: number) => pv.subarray(offsets[g]!, offsets[g]! + sizes[g]!);
      const thetaM = tf.tensor2d(piece(0), [HIDDEN, SPATIAL]);
      const fully = tf.tensor2d(piece(4), [t3 * HIDDEN, H]);
      const w1 = gatedWeights(piece(1), KERNEL * F);
      const w2 = gatedWeights(piece(2), KERNEL * SPATIAL);
      const w3 = gatedWeights(piece(3), KERNEL * HIDDEN);
      const gated = (cols: tf.Tensor2D, [wv, wg]: [tf.Tensor2D, tf.Tensor2D]) => {
        const v = tf.matMul(cols, wv) as tf.Tensor2D;
        return [v, ...gateForward(v, tf.matMul(cols, wg) as tf.Tensor2D)] as const;
      };
      // Every block is im2col (selectionIm2col: a constant time-selection matMul on a channel-major
      // view) followed by exact-size value and gate matMuls. Series are sample-major (row b*n + i),
      // so the input needs only a [T, F] -> [F, T] transpose and the output none.
      const cols1 = selectionIm2col(tf.reshape(tf.transpose(x, [0, 1, 3, 2]), [N, F, T]) as tf.Tensor3D, KERNEL);
      const [v1, s1, h1] = gated(cols1, w1);
      // Graph convolution: Theta (32 -> 8), then node mixing with the node index as the LAST axis,
      // so the tiny adjacency is the matMul's right operand (the one wasm re-packs on every call),
      // not the [n, B*t1*8] activations: measured 0.09 ms -> 0.03 ms per mixing matMul.
      const q = tf.matMul(h1, thetaM);
      const qT = tf.reshape(tf.transpose(tf.reshape(q, [B, n, t1 * SPATIAL]), [0, 2, 1]), [B * t1 * SPATIAL, n]) as tf.Tensor2D;
      // relu is fused into the matMul when no gradient is being recorded. r: [B, t1, 8, n].
      const r = tf.fused.matMul({ a: qT, b: tf.transpose(adjacency), activation: 'relu' });
      const cols2 = selectionIm2col(tf.reshape(tf.transpose(tf.reshape(r, [B, t1, SPATIAL, n]), [0, 3, 2, 1]), [N, SPATIAL, t1]) as tf.Tensor3D, KERNEL);
      const [v2, s2, h2] = gated(cols2, w2);
      const cols3 = selectionIm2col(tf.transpose(tf.reshape(h2, [N, t2, HIDDEN]), [0, 2, 1]) as tf.Tensor3D, KERNEL);
      const [v3, s3, h3] = gated(cols3, w3);
      const y = tf.matMul(tf.reshape(h3, [N, t3 * HIDDEN]) as tf.Tensor2D, fully);
      (save as tf.GradSaveFunc)([cols1, v1, s1, h1, thetaM, r, cols2, ...w2, v2, s2, h2, cols3, ...w3, v3, s3, h3, fully]);
      return {
        value: tf.reshape(y, [B, n, H]) as tf.Tensor3D,
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const [sc1, sv1, ss1, sh1, sTheta, sr, sc2, sW2v, sW2g, sv2, ss2, sh2, sc3, sW3v, sW3g, sv3, ss3, sh3, sFully] = saved as tf.Tensor2D[];
          const dY = tf.reshape(dy, [N, H]) as tf.Tensor2D;
          // h3^T as a rank-3 transpose [N, t3, 32] -> [t3, 32, N]: measured 0.03-0.05 ms vs 0.07-0.11 ms
          // for the 2-D transpose of [N, 96].
          const dFully = tf.matMul(tf.reshape(tf.transpose(tf.reshape(sh3!, [N, t3, HIDDEN]), [1, 2, 0]), [t3 * HIDDEN, N]) as tf.Tensor2D, dY);
          const dh3 = tf.reshape(tf.matMul(dY, tf.transpose(sFully!)), [N * t3, HIDDEN]) as tf.Tensor2D;
          const [dg3, dCols3] = gatedBlockBackward(dh3, sv3!, ss3!, sh3!, sc3!, [sW3v!, sW3g!]);
          const dh2 = tf.reshape(selectionCol2im(dCols3!, t2, KERNEL), [N * t2, HIDDEN]) as tf.Tensor2D;
          const [dg2, dCols2] = gatedBlockBackward(dh2, sv2!, ss2!, sh2!, sc2!, [sW2v!, sW2g!]);
          // [(b, i), c, t] -> [(b, t, c), i], the layout of r.
          const dR = tf.transpose(tf.reshape(selectionCol2imChannelMajor(dCols2!, t1, KERNEL), [B, n, SPATIAL, t1]), [0, 3, 2, 1]);
          const dr = tf.reshape(tf.mul(dR, tf.step(tf.reshape(sr!, [B, t1, SPATIAL, n]))), [B * t1 * SPATIAL, n]) as tf.Tensor2D;
          const dqT = tf.matMul(dr, adjacency); // r = qT @ A^T
          const dq = tf.reshape(tf.transpose(tf.reshape(dqT, [B, t1 * SPATIAL, n]), [0, 2, 1]), [N * t1, SPATIAL]) as tf.Tensor2D;
          const dTheta = tf.matMul(tf.transpose(sh1!), dq);
          const dh1 = tf.matMul(dq, tf.transpose(sTheta!)) as tf.Tensor2D;
          const [dg1] = gatedBlockBackward(dh1, sv1!, ss1!, sh1!, sc1!, null);
          return tf.concat([tf.reshape(dTheta, [-1]), ...dg1, ...dg2, ...dg3, tf.reshape(dFully, [-1])]);
        },
      };
    });
    return op(params) as tf.Tensor3D;
  };

  const forward = mode === 'fused' ? forwardFused : mode === 'toeplitz' ? forwardToeplitz : forwardIm2col;
  return { name: 'stgcn', dims: d, layout, outputLayer: 'fully', forward };
}

/**
 * FLOPs (2 per multiply-add) of one training step (forward + backward) at `batch` samples of `n` nodes:
 * `forward`, `backward`, `total` count the USEFUL work (each conv as im2col with W1 + W2 folded, the
 * reference's arithmetic): backward is two matMuls of the forward's size per layer, except where one
 * operand is data (first conv: weight gradient only; node propagation: input gradient only).
 * `executed` is what the default 'fused' engine actually multiplies: the useful work plus its constant
 * time-selection matMuls (im2col of every block in the forward, col2im of blocks 2 and 3 in the
 * backward); for judging the engine's matMul throughput. (conv1 + conv2 are summed in JS, not counted.)
 * Elementwise ops are not counted.
 */
export function stgcnFlopsPerStep(
  batch: number,
  n: number,
  dims?: Partial<ModelDims>,
): { forward: number; backward: number; total: number; executed: number } {
  const d = resolveDims(dims);
  const N = batch * n;
  const F = d.inFeatures;
  const t1 = d.inSteps - (KERNEL - 1);
  const t2 = t1 - (KERNEL - 1);
  const t3 = t2 - (KERNEL - 1);
  const mm = (m: number, k: number, c: number) => 2 * m * k * c;
  const conv1 = mm(N * t1, KERNEL * F, 2 * HIDDEN);
  const theta = mm(N * t1, HIDDEN, SPATIAL);
  const prop = mm(n, n, batch * t1 * SPATIAL);
  const conv2 = mm(N * t2, KERNEL * SPATIAL, 2 * HIDDEN);
  const conv3 = mm(N * t3, KERNEL * HIDDEN, 2 * HIDDEN);
  const head = mm(N, t3 * HIDDEN, d.outSteps);
  const forward = conv1 + theta + prop + conv2 + conv3 + head;
  const backward = conv1 + prop + 2 * (theta + conv2 + conv3 + head);
  // selectionIm2col of a [N, C, T] view: [N*C, T] @ [T, T'*K]; col2im is the same size transposed.
  const select = (channels: number, steps: number, tOut: number) => mm(N * channels, steps, tOut * KERNEL);
  const executed = forward + backward + select(F, d.inSteps, t1) + 2 * (select(SPATIAL, t1, t2) + select(HIDDEN, t2, t3));
  return { forward, backward, total: forward + backward, executed };
}
