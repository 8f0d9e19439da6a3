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
 *   engine bookkeeping plus a copy of every tensor it saves, an untaped kernel ~5-10 us.
 * - Rows are node-major series (ops.ts) so graph propagation is one 2-D matMul; features are
 *   time-major (t, c) so Theta is a plain matMul on [rows*steps, 32] and the head sees the reference's
 *   (t, c) flatten order.
 * - c1(x) + c2(x) = (W1 + W2) x: each gated block computes value and gate with two matMuls, a third
 *   fewer FLOPs than three convs. Value and gate are separate matMuls because splitting the columns
 *   of one product runs as a JS loop on wasm and costs more than the matMul itself.
 * - Block 1 runs as im2col by a constant 0/1 matMul on the data (the input needs no gradient); blocks
 *   2 and 3 as dense block-Toeplitz matMuls (ops.ts toeplitzConvWeight): 2.25x / 1.5x the FLOPs of
 *   im2col but no slicing or concatenation of activations, which is the slow part on wasm.
 * - Theta is applied before the node mixing (they commute), so the propagation runs on 8 channels.
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
  toeplitzConvWeight,
  toeplitzWeightGradRaw,
  toeplitzWeightRaw,
} from './ops.js';
import { convMap, identityMap, linearMap, type ReferenceMapping } from './reference.js';

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
   *   (no per-op tape bookkeeping, few saved tensors); first block as im2col by a constant selection
   *   matMul, later blocks as dense Toeplitz matMuls. Gradients flow to `params` only.
   * - 'toeplitz': Toeplitz blocks as separate ops with tfjs autodiff (cross-checks the fused backward).
   * - 'im2col': slices + concat + matMul per block; fewest FLOPs, slowest on wasm (JS slice loops).
   * Measured per training step (batch 64, 6 nodes, wasm, CPU time): fused 10.7 ms, toeplitz 13.3 ms,
   * im2col 18.2 ms (bench/models.ts).
   */
  conv?: 'fused' | 'toeplitz' | 'im2col';
}

interface FusedConsts {
  /** [T*F, T1*K*F] 0/1 matrix: x rows [N, (t, f)] @ it = im2col rows [N, (s, k, f)]. */
  im2col: tf.Tensor2D;
  fold: tf.Tensor2D;
  foldT: tf.Tensor2D;
}

const fusedCache = new Map<string, FusedConsts>();

function fusedConsts(steps: number, features: number): FusedConsts {
  const key = `${steps}:${features}`;
  const hit = fusedCache.get(key);
  if (hit) return hit;
  const tOut = steps - (KERNEL - 1);
  const sel = new Float32Array(steps * features * tOut * KERNEL * features);
  const cols = tOut * KERNEL * features;
  for (let s = 0; s < tOut; s++)
    for (let k = 0; k < KERNEL; k++)
      for (let f = 0; f < features; f++) sel[((s + k) * features + f) * cols + (s * KERNEL + k) * features + f] = 1;
  const fold = tf.keep(tf.tensor2d(FOLD));
  const entry: FusedConsts = {
    im2col: tf.keep(tf.tensor2d(sel, [steps * features, cols])),
    fold,
    foldT: tf.keep(tf.transpose(fold)),
  };
  fusedCache.set(key, entry);
  return entry;
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
  const valueSpecs = specs.map((sp) => ({ ...sp, parts: 1, mix: [FOLD[0]!] }));
  const gateSpecs = specs.map((sp) => ({ ...sp, parts: 1, mix: [FOLD[1]!] }));
  const forwardFused = (params: tf.Tensor1D, x: tf.Tensor4D, adjacency: tf.Tensor2D): tf.Tensor3D => {
    check(x, adjacency);
    const [B, n, T, F] = x.shape;
    const N = n * B;
    const H = d.outSteps;
    const cs = fusedConsts(T, F);
    const op = tf.customGrad((pIn: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
      const [theta, g1, g2, g3, fullyFlat] = tf.split(pIn as tf.Tensor1D, sizes, 0) as tf.Tensor1D[];
      const thetaM = tf.reshape(theta!, [HIDDEN, SPATIAL]) as tf.Tensor2D;
      const fully = tf.reshape(fullyFlat!, [t3 * HIDDEN, H]) as tf.Tensor2D;
      // Block 1 as im2col (a constant 0/1 matMul on the data) and separate value / gate matMuls.
      const xRows = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [N, T * F]) as tf.Tensor2D;
      const cols1 = tf.reshape(tf.matMul(xRows, cs.im2col), [N * t1, KERNEL * F]) as tf.Tensor2D;
      const w1 = tf.matMul(cs.fold, tf.reshape(g1!, [3, KERNEL * F * HIDDEN])); // [W1 + W2; W3]
      const [w1v, w1g] = tf.split(w1, 2, 0).map((w) => tf.reshape(w, [KERNEL * F, HIDDEN]) as tf.Tensor2D);
      const v1 = tf.matMul(cols1, w1v!) as tf.Tensor2D;
      const [s1, h1] = gateForward(v1, tf.matMul(cols1, w1g!) as tf.Tensor2D);
      // Graph convolution: Theta (32 -> 8) then node mixing, relu.
      const q = tf.matMul(h1, thetaM);
      const h2in = tf.reshape(tf.relu(tf.matMul(adjacency, tf.reshape(q, [n, B * t1 * SPATIAL]) as tf.Tensor2D)), [N, t1 * SPATIAL]) as tf.Tensor2D;
      // Blocks 2 and 3 as dense Toeplitz matMuls, value and gate as separate matMuls: splitting
      // the columns of one [N, 2C] product would cost more than the matMul (JS slice loops on wasm).
      const Wv2 = toeplitzWeightRaw(g2!, valueSpecs[1]!);
      const Wg2 = toeplitzWeightRaw(g2!, gateSpecs[1]!);
      const v2 = tf.matMul(h2in, Wv2) as tf.Tensor2D;
      const [s2, h2] = gateForward(v2, tf.matMul(h2in, Wg2) as tf.Tensor2D);
      const Wv3 = toeplitzWeightRaw(g3!, valueSpecs[2]!);
      const Wg3 = toeplitzWeightRaw(g3!, gateSpecs[2]!);
      const v3 = tf.matMul(h2, Wv3) as tf.Tensor2D;
      const [s3, h3] = gateForward(v3, tf.matMul(h2, Wg3) as tf.Tensor2D);
      const y = tf.matMul(h3, fully);
      (save as tf.GradSaveFunc)([cols1, v1, s1, h1, thetaM, h2in, Wv2, Wg2, v2, s2, h2, Wv3, Wg3, v3, s3, h3, fully]);
      return {
        value: tf.transpose(tf.reshape(y, [n, B, H]), [1, 0, 2]) as tf.Tensor3D,
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const [sc1, sv1, ss1, sh1, sTheta, sh2in, sWv2, sWg2, sv2, ss2, sh2, sWv3, sWg3, sv3, ss3, sh3, sFully] = saved as tf.Tensor2D[];
          const dY = tf.reshape(tf.transpose(dy, [1, 0, 2]), [N, H]) as tf.Tensor2D;
          const dFully = tf.matMul(tf.transpose(sh3!), dY);
          const dh3 = tf.matMul(dY, tf.transpose(sFully!)) as tf.Tensor2D;
          // Gated Toeplitz block: weight gradients from one transposed input, input gradient as the
          // sum of the value and gate paths.
          const blockBackward = (dh: tf.Tensor2D, v: tf.Tensor2D, sg: tf.Tensor2D, h: tf.Tensor2D, input: tf.Tensor2D, Wv: tf.Tensor2D, Wg: tf.Tensor2D, i: number) => {
            const [dv, dgt] = gateBackward(dh, v, sg, h);
            const inT = tf.transpose(input);
            const dWeights = tf.add(
              toeplitzWeightGradRaw(tf.matMul(inT, dv), valueSpecs[i]!),
              toeplitzWeightGradRaw(tf.matMul(inT, dgt), gateSpecs[i]!),
            );
            const dInput = tf.add(tf.matMul(dv, tf.transpose(Wv)), tf.matMul(dgt, tf.transpose(Wg))) as tf.Tensor2D;
            return [dWeights, dInput] as const;
          };
          const [dg3, dh2] = blockBackward(dh3, sv3!, ss3!, sh3!, sh2!, sWv3!, sWg3!, 2);
          const [dg2, dh2in] = blockBackward(dh2, sv2!, ss2!, sh2!, sh2in!, sWv2!, sWg2!, 1);
          const dr = tf.reshape(tf.mul(dh2in, tf.step(sh2in!)), [n, B * t1 * SPATIAL]) as tf.Tensor2D;
          const dq = tf.reshape(tf.matMul(tf.transpose(adjacency), dr), [N * t1, SPATIAL]) as tf.Tensor2D;
          const dTheta = tf.matMul(tf.transpose(sh1!), dq);
          const dh1 = tf.matMul(dq, tf.transpose(sTheta!)) as tf.Tensor2D;
          const [dv1, dgt1] = gateBackward(dh1, sv1!, ss1!, sh1!);
          // d(W)^T = dv^T @ cols: [32, N*t1] @ [N*t1, 8] runs ~3x faster on wasm than cols^T @ dv
          // ([8, N*t1] @ [N*t1, 32], a long reduction into 8 rows), transposes included.
          const dWT = (dz: tf.Tensor2D) => tf.reshape(tf.transpose(tf.matMul(tf.transpose(dz), sc1!)), [1, -1]);
          const dw1 = tf.concat([dWT(dv1), dWT(dgt1)], 0) as tf.Tensor2D;
          return tf.concat([
            tf.reshape(dTheta, [-1]),
            tf.reshape(tf.matMul(cs.foldT, dw1), [-1]),
            dg2,
            dg3,
            tf.reshape(dFully, [-1]),
          ]);
        },
      };
    });
    return op(params) as tf.Tensor3D;
  };

  const forward = mode === 'fused' ? forwardFused : mode === 'toeplitz' ? forwardToeplitz : forwardIm2col;
  return { name: 'stgcn', dims: d, layout, forward };
}

/**
 * FLOPs (2 per multiply-add) of one training step (forward + backward) at `batch` samples of `n` nodes:
 * `forward`, `backward`, `total` count the USEFUL work (each conv as im2col with W1 + W2 folded, the
 * reference's arithmetic): backward is two matMuls of the forward's size per layer, except where one
 * operand is data (first conv: weight gradient only; node propagation: input gradient only).
 * `executed` is what the default 'fused' engine actually multiplies (Toeplitz blocks and the im2col
 * selection matMul included), for judging the engine's matMul throughput. Elementwise ops are not counted.
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
  // The fused engine: im2col selection (forward only), Toeplitz blocks 2 and 3, weight construction.
  const select1 = mm(N, d.inSteps * F, t1 * KERNEL * F);
  const toeplitz2 = mm(N, t1 * SPATIAL, 2 * t2 * HIDDEN);
  const toeplitz3 = mm(N, t2 * HIDDEN, 2 * t3 * HIDDEN);
  const build = 2 * (mm(t1 * t2, 3 * KERNEL, SPATIAL * HIDDEN) + mm(t2 * t3, 3 * KERNEL, HIDDEN * HIDDEN));
  const executed = select1 + conv1 + 3 * (theta + toeplitz2 + toeplitz3 + head) + 2 * prop + conv1 + 2 * build;
  return { forward, backward, total: forward + backward, executed };
}
