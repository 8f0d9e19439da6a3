/**
 * Fast building blocks for functional forecasters on the tfjs wasm backend (shared by STGCN and GWN).
 *
 * Why these exist: on wasm, matMul with transpose flags, batched (rank-3) matMul, rank-5 slices and
 * conv2d gradients are slow or missing, and every op has a fixed overhead. So every layer here is a
 * 2-D matMul on reshaped tensors, with hand-written gradients where they save ops.
 *
 * Conventions
 * - "Node-major" activations: the series of node i of sample b is row i*B + b of an [n*B, T, C] tensor.
 *   Graph propagation is then ONE plain 2-D matMul `A @ X.reshape(n, B*T*C)`, no transposes, and the
 *   centre node (index 0) of every sample is the contiguous block of rows 0..B-1.
 * - Temporal convolutions (kernel 1 x K over time, optional dilation) are im2col + one 2-D matMul.
 *   im2col column order is (tap k, channel c): column = k*C + c. A PyTorch Conv2d weight
 *   [out, in, 1, K] maps to our [K*in, out] matrix by `convWeightRefToOurs` in reference.ts.
 *
 * Stable API (other modules import these; do not change signatures):
 *   matMul2d(a: Tensor2D, b: Tensor2D): Tensor2D               a @ b, gradient via explicit transposes
 *   matMul2dConstA(a: Tensor2D, b: Tensor2D): Tensor2D         same, but no gradient flows into `a`
 *                                                               (use when `a` depends only on data)
 *   temporalIm2col(x: Tensor3D [N,T,C], kernel, dilation=1): Tensor2D [N*T', kernel*C],
 *                                                               T' = T - (kernel-1)*dilation
 *   temporalConv(x: Tensor3D [N,T,C], w: Tensor2D [K*C, Cout], kernel, dilation=1): Tensor3D [N,T',Cout]
 *   gluRelu(z: Tensor2D [M, 2C]): Tensor2D [M, C]             relu(sigmoid(z[:, C:]) * z[:, :C])
 *   propagateNodes(adj: Tensor2D [n,n], x: Tensor (node-major, dim0 = n*B)): same shape as x,
 *                                                               out[i] = sum_j adj[i,j] x[j]
 *   toNodeMajor(x: Tensor4D [B,n,T,F]): Tensor3D [n*B, T, F]
 *   fromNodeMajor(y: Tensor2D [n*B, H], batch): Tensor3D [B, n, H]
 *   splitParams(params: Tensor1D, layout: ParamLayout): Record<string, Tensor>  (one SplitV op; its
 *                                                               gradient is one concat, not one pad per entry)
 *   splitParamGroups(params, layout, groups: string[][]): Tensor1D[]   runs of adjacent entries, flat
 *   interface ToeplitzSpec { steps, kernel, dilation?, inChannels, outChannels, parts, mix? }
 *   toeplitzConvWeight(w: Tensor [J*K*C*O], spec): Tensor2D [T*C, parts*T'*O]   dense conv matrix with
 *                                                               its own gradient (x [N, T*C] @ it = conv)
 *   toeplitzWeightRaw(w, spec) / toeplitzWeightGradRaw(dWbig, spec): Tensor1D [J*K*C*O]
 *                                                               the same without tape (inside a customGrad)
 *   timeSelection(steps, kernel, dilation=1): TimeSelection    cached 0/1 [T, T'*K] matrix and transpose
 *   selectionIm2col(xT: Tensor3D [N,C,T], kernel, dilation=1): Tensor2D [N*T', K*C]   im2col without slices
 *   selectionCol2im(dCols: Tensor2D [N*T', K*C], steps, kernel, dilation=1): Tensor3D [N,T,C]  its adjoint
 *   selectionCol2imChannelMajor(dCols, steps, kernel, dilation=1): Tensor3D [N,C,T]     the same, channel-major
 *   transposeTall(x: Tensor2D [rows, cols]): Tensor2D [cols, rows]   as a rank-3 transpose (faster on wasm)
 *
 * Wasm costs measured here (process CPU time, shared machine): a column slice of [384, 384] ~0.9 ms
 * (the Slice kernel copies its whole input to JS, then loops over rows) vs a [384,192]@[192,96]
 * matMul ~0.5 ms; a taped op costs ~35 us of engine bookkeeping (fwd + bwd) vs ~5-10 us untaped,
 * which is why STGCN's hot path is one customGrad with a hand-written backward.
 */
import { tf } from '../runtime/backend.js';
import type { ParamLayout } from './layout.js';

type Tensor = tf.Tensor;
type Tensor2D = tf.Tensor2D;
type Tensor3D = tf.Tensor3D;

/**
 * a @ b for 2-D tensors. The built-in matMul gradient uses transposeA/B flags, which the wasm
 * backend runs ~8x slower than an explicit transpose followed by a plain matMul.
 */
export const matMul2d: (a: Tensor2D, b: Tensor2D) => Tensor2D = tf.customGrad(
  (a: Tensor | tf.GradSaveFunc, b: Tensor | tf.GradSaveFunc, save: Tensor | tf.GradSaveFunc) => {
    const A = a as Tensor2D;
    const B = b as Tensor2D;
    (save as tf.GradSaveFunc)([A, B]);
    return {
      value: tf.matMul(A, B) as Tensor2D,
      gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
        const [sa, sb] = saved as [Tensor2D, Tensor2D];
        return [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)];
      },
    };
  },
) as unknown as (a: Tensor2D, b: Tensor2D) => Tensor2D;

/**
 * a @ b where `a` needs no gradient (e.g. im2col of the input data, or a fixed adjacency): saves the
 * dy @ b^T product that a custom gradient would otherwise compute and throw away.
 */
export const matMul2dConstA: (a: Tensor2D, b: Tensor2D) => Tensor2D = tf.customGrad(
  (a: Tensor | tf.GradSaveFunc, b: Tensor | tf.GradSaveFunc, save: Tensor | tf.GradSaveFunc) => {
    const A = a as Tensor2D;
    const B = b as Tensor2D;
    (save as tf.GradSaveFunc)([A]);
    return {
      value: tf.matMul(A, B) as Tensor2D,
      gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
        const sa = saved[0] as Tensor2D;
        return [tf.zerosLike(sa), tf.matMul(tf.transpose(sa), dy)];
      },
    };
  },
) as unknown as (a: Tensor2D, b: Tensor2D) => Tensor2D;

/**
 * Transpose of a tall 2-D activation [rows, cols]. The wasm backend's rank-2 transpose is ~8x slower
 * (measured: 2.6 vs 0.28 ms for [4608, 64]) than the same permutation written as a rank-3 transpose
 * [a, b, cols] -> [cols, a, b] with rows = a*b, so the rows are split into two factors when possible.
 */
export function transposeTall(x: Tensor2D): Tensor2D {
  const [rows, cols] = x.shape;
  let b = Math.min(128, rows >> 1);
  while (b > 1 && rows % b !== 0) b--;
  if (b <= 1) return tf.transpose(x);
  return tf.reshape(tf.transpose(tf.reshape(x, [rows / b, b, cols]), [2, 0, 1]), [cols, rows]);
}

/** Output length of a valid (unpadded) temporal convolution. */
export function convOutLength(steps: number, kernel: number, dilation = 1): number {
  return steps - (kernel - 1) * dilation;
}

/**
 * im2col along time: x [N, T, C] -> [N*T', K*C] with column k*C + c = x[:, t + k*dilation, c].
 * K rank-3 slices + one concat (cheaper on wasm than K separate matMuls and adds).
 */
export function temporalIm2col(x: Tensor3D, kernel: number, dilation = 1): Tensor2D {
  const [N, T, C] = x.shape;
  const tOut = convOutLength(T, kernel, dilation);
  if (tOut < 1) throw new Error(`temporalIm2col: ${T} steps too short for kernel ${kernel} dilation ${dilation}`);
  if (kernel === 1) return tf.reshape(x, [N * T, C]);
  const taps: Tensor3D[] = [];
  for (let k = 0; k < kernel; k++) taps.push(tf.slice(x, [0, k * dilation, 0], [N, tOut, C]));
  return tf.reshape(tf.concat(taps, 2), [N * tOut, kernel * C]);
}

/** Valid temporal convolution: x [N, T, C], w [K*C, Cout] (im2col order) -> [N, T', Cout]. */
export function temporalConv(x: Tensor3D, w: Tensor2D, kernel: number, dilation = 1): Tensor3D {
  const [N, T] = x.shape;
  const tOut = convOutLength(T, kernel, dilation);
  const y = matMul2d(temporalIm2col(x, kernel, dilation), w);
  return tf.reshape(y, [N, tOut, w.shape[1]]);
}

/** Constant 0/1 time-selection matrices of a valid temporal convolution (see selectionIm2col). */
export interface TimeSelection {
  /** [T, T'*K]: column s*K + k is 1 at row s + k*dilation. */
  sel: Tensor2D;
  /** Its transpose [T'*K, T] (col2im: sums the K taps that read each step). */
  selT: Tensor2D;
  steps: number;
  tOut: number;
  kernel: number;
}

// Built once per (T, K, dilation) and kept out of every tidy.
const timeSelectionCache = new Map<string, TimeSelection>();

export function timeSelection(steps: number, kernel: number, dilation = 1): TimeSelection {
  const key = `${steps}:${kernel}:${dilation}`;
  const hit = timeSelectionCache.get(key);
  if (hit) return hit;
  const tOut = convOutLength(steps, kernel, dilation);
  if (tOut < 1) throw new Error(`timeSelection: ${steps} steps too short for kernel ${kernel} dilation ${dilation}`);
  const m = new Float32Array(steps * tOut * kernel);
  for (let s = 0; s < tOut; s++) for (let k = 0; k < kernel; k++) m[(s + k * dilation) * tOut * kernel + s * kernel + k] = 1;
  const sel = tf.keep(tf.tensor2d(m, [steps, tOut * kernel]));
  const entry: TimeSelection = { sel, selT: tf.keep(tf.transpose(sel)), steps, tOut, kernel };
  timeSelectionCache.set(key, entry);
  return entry;
}

/**
 * im2col of a CHANNEL-major input xT [N, C, T] -> [N*T', K*C] (column k*C + c, as temporalIm2col),
 * with no slicing: one matMul [N*C, T] @ sel [T, T'*K] duplicates the taps along time, and one
 * rank-3 transpose [N, C, (s, k)] -> [N, (s, k), C] makes the im2col rows contiguous.
 *
 * Why: on wasm, slices and concats of activations run as JS loops over rows, while this is two fast
 * kernels (the selection matMul adds only 2*T/(C_out) of the conv's FLOPs); rank-3 transposes of tall
 * tensors are fast where 2-D transposes of tall matrices are not (measured: [384,6,32] perm [0,2,1]
 * 0.03 ms vs [1152,128] -> [128,1152] 0.39 ms). Plain ops: differentiable, but inside hand-written
 * backwards use selectionCol2im (the built-in matMul gradient uses slow transpose flags).
 */
export function selectionIm2col(xT: Tensor3D, kernel: number, dilation = 1): Tensor2D {
  const [N, C, T] = xT.shape;
  const ts = timeSelection(T, kernel, dilation);
  const u = tf.matMul(tf.reshape(xT, [N * C, T]) as Tensor2D, ts.sel);
  return tf.reshape(tf.transpose(tf.reshape(u, [N, C, ts.tOut * kernel]), [0, 2, 1]), [N * ts.tOut, kernel * C]);
}

/**
 * The adjoint of selectionIm2col, channel-major: d(cols) [N*T', K*C] -> d(xT) [N, C, T] (each step
 * receives the sum of the K taps that read it). Rank-3 transpose, then a matMul with sel^T.
 */
export function selectionCol2imChannelMajor(dCols: Tensor2D, steps: number, kernel: number, dilation = 1): Tensor3D {
  const ts = timeSelection(steps, kernel, dilation);
  const [rows, KC] = dCols.shape;
  const N = rows / ts.tOut;
  const C = KC / kernel;
  if (!Number.isInteger(N) || !Number.isInteger(C)) {
    throw new Error(`selectionCol2im: [${dCols.shape}] is not [N*${ts.tOut}, ${kernel}*C]`);
  }
  const dT = tf.transpose(tf.reshape(dCols, [N, ts.tOut * kernel, C]), [0, 2, 1]); // [N, C, (s, k)]
  return tf.reshape(tf.matMul(tf.reshape(dT, [N * C, ts.tOut * kernel]) as Tensor2D, ts.selT), [N, C, steps]);
}

/** selectionCol2imChannelMajor transposed back to a TIME-major d(x) [N, T, C]. */
export function selectionCol2im(dCols: Tensor2D, steps: number, kernel: number, dilation = 1): Tensor3D {
  return tf.transpose(selectionCol2imChannelMajor(dCols, steps, kernel, dilation), [0, 2, 1]);
}

/**
 * Gated activation relu(sigmoid(gate) * value) of z = [value | gate] (each C columns), with a
 * hand-written gradient: 6 backward ops and one concat instead of ~12 ops plus two full-size pads.
 */
export const gluRelu: (z: Tensor2D) => Tensor2D = tf.customGrad((zIn: Tensor | tf.GradSaveFunc, save: Tensor | tf.GradSaveFunc) => {
  const z = zIn as Tensor2D;
  const [M, C2] = z.shape;
  if (C2 % 2 !== 0) throw new Error(`gluRelu: column count ${C2} is odd`);
  const C = C2 / 2;
  // Note: on wasm a column slice copies the whole input to JS and loops over rows (stridedSlice with
  // unit strides takes the same path); models on the hot path avoid it (see stgcn.ts 'fused').
  const value = tf.slice(z, [0, 0], [M, C]);
  const s = tf.sigmoid(tf.slice(z, [0, C], [M, C]));
  const p = tf.mul(s, value);
  (save as tf.GradSaveFunc)([value, s, p]);
  return {
    value: tf.relu(p) as Tensor2D,
    gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
      const [v, sg, pp] = saved as [Tensor2D, Tensor2D, Tensor2D];
      const dp = tf.mul(dy, tf.step(pp));
      const dValue = tf.mul(dp, sg);
      // d/dgate of s*v = v*s*(1-s) = (v - p)*s, so dGate = dValue * (v - p).
      const dGate = tf.mul(dValue, tf.sub(v, pp));
      return tf.concat([dValue, dGate], 1);
    },
  };
}) as unknown as (z: Tensor2D) => Tensor2D;

/**
 * Graph propagation on node-major activations: out[i] = sum_j adj[i, j] * x[j] for x of shape
 * [n*B, ...]. One 2-D matMul; the adjacency gets no gradient (it is data here).
 */
export function propagateNodes<T extends Tensor>(adj: Tensor2D, x: T): T {
  const n = adj.shape[0];
  if (adj.shape[1] !== n) throw new Error(`propagateNodes: adjacency must be square, got [${adj.shape}]`);
  const rows = x.shape[0]!;
  if (rows % n !== 0) throw new Error(`propagateNodes: ${rows} rows are not a multiple of ${n} nodes`);
  const flat = tf.reshape(x, [n, x.size / n]) as Tensor2D;
  return tf.reshape(matMul2dConstA(adj, flat), x.shape) as T;
}

/** [B, n, T, F] -> node-major [n*B, T, F] (one transpose of the small input). */
export function toNodeMajor(x: tf.Tensor4D): Tensor3D {
  const [B, n, T, F] = x.shape;
  return tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [n * B, T, F]);
}

/** Node-major [n*B, H] -> [B, n, H]. */
export function fromNodeMajor(y: Tensor2D, batch: number): Tensor3D {
  const [rows, H] = y.shape;
  if (rows % batch !== 0) throw new Error(`fromNodeMajor: ${rows} rows are not a multiple of batch ${batch}`);
  return tf.transpose(tf.reshape(y, [rows / batch, batch, H]), [1, 0, 2]);
}

/**
 * Every layout entry of a flat parameter vector as a tensor of the entry's shape. One SplitV op,
 * whose gradient is a single concat (slicing each entry would cost one full-size pad per entry).
 */
export function splitParams(params: tf.Tensor1D, layout: ParamLayout): Record<string, Tensor> {
  if (params.shape[0] !== layout.size) {
    throw new Error(`splitParams: parameter vector has ${params.shape[0]} values, layout ${layout.modelName} needs ${layout.size}`);
  }
  const parts = tf.split(params, layout.entries.map((e) => e.size), 0);
  const out: Record<string, Tensor> = {};
  layout.entries.forEach((e, i) => {
    out[e.name] = e.shape.length === 1 ? parts[i]! : tf.reshape(parts[i]!, e.shape);
  });
  return out;
}

/** Shape of a stack of temporal convolutions turned into one dense (block-Toeplitz) matrix. */
export interface ToeplitzSpec {
  /** Input steps T. */
  steps: number;
  kernel: number;
  dilation?: number;
  inChannels: number;
  outChannels: number;
  /** How many convolution outputs sit side by side in the result (e.g. 2: value and gate). */
  parts: number;
  /**
   * Optional [parts][stacked] coefficients: output part p = sum_j mix[p][j] * conv_j, where the weight
   * holds `stacked` convolutions. Default: identity (stacked = parts). STGCN's gated block uses
   * [[1, 1, 0], [0, 0, 1]] to compute conv1 + conv2 and conv3 with one matMul.
   */
  mix?: number[][];
}

interface ToeplitzConsts {
  /** [T*P*T', J*K] selection (and mixing) matrix and its transpose. */
  select: Tensor2D;
  selectT: Tensor2D;
  tOut: number;
  stacked: number;
}

// Constant matrices: built once per spec and kept out of every tidy.
const toeplitzCache = new Map<string, ToeplitzConsts>();

function toeplitzConsts(spec: ToeplitzSpec): ToeplitzConsts {
  const { steps: T, kernel: K, parts: P } = spec;
  const d = spec.dilation ?? 1;
  const mix = spec.mix ?? Array.from({ length: P }, (_, p) => Array.from({ length: P }, (_, j) => (p === j ? 1 : 0)));
  if (mix.length !== P) throw new Error(`toeplitzConvWeight: mix has ${mix.length} rows, expected parts = ${P}`);
  const J = mix[0]!.length;
  const key = `${T}:${K}:${d}:${JSON.stringify(mix)}`;
  const hit = toeplitzCache.get(key);
  if (hit) return hit;
  const tOut = convOutLength(T, K, d);
  if (tOut < 1) throw new Error(`toeplitzConvWeight: ${T} steps too short for kernel ${K} dilation ${d}`);
  // select[(t, p, s), (j, k)] = mix[p][j] when t = s + k*d.
  const sel = new Float32Array(T * P * tOut * J * K);
  for (let t = 0; t < T; t++)
    for (let p = 0; p < P; p++)
      for (let s = 0; s < tOut; s++) {
        const lag = t - s;
        if (lag < 0 || lag % d !== 0 || lag / d >= K) continue;
        const k = lag / d;
        const row = (t * P + p) * tOut + s;
        for (let j = 0; j < J; j++) sel[row * J * K + j * K + k] = mix[p]![j]!;
      }
  const select = tf.keep(tf.tensor2d(sel, [T * P * tOut, J * K]));
  const entry: ToeplitzConsts = { select, selectT: tf.keep(tf.transpose(select)), tOut, stacked: J };
  toeplitzCache.set(key, entry);
  return entry;
}

/**
 * Dense matrix of a stack of valid temporal convolutions acting on time-major features:
 * returns Wbig [T*C, P*T'*O] with Wbig[(t, c), (p, s, o)] = sum_j mix[p][j] w[j, k, c, o] where
 * t = s + k*dilation (0 elsewhere). `w` holds J*K*C*O values in [j][k][c][o] order (our conv entries
 * are [K, C, O] each; J consecutive entries form the stack).
 *
 * Why: on wasm, im2col needs slices/concats that run as JS loops over rows (slow at small channel
 * counts), and gathers are slow, while this makes each convolution ONE 2-D matMul `x [N, T*C] @ Wbig`
 * with no data movement of activations. It spends T/K times the im2col FLOPs (x2.25 at T=9, K=4) but
 * matMul is by far the fastest kernel. Output columns are (p, s, o): each part is a contiguous block
 * of time-major columns. Built with one small matMul (constant selection matrix) and one transpose;
 * the gradient is the same two kernels in reverse.
 */
export function toeplitzConvWeight(w: Tensor, spec: ToeplitzSpec): Tensor2D {
  const op = tf.customGrad((wIn: Tensor | tf.GradSaveFunc) => {
    const wt = wIn as Tensor;
    return {
      value: toeplitzWeightRaw(wt, spec),
      gradFunc: (dy: Tensor2D) => tf.reshape(toeplitzWeightGradRaw(dy, spec), wt.shape),
    };
  });
  return op(w) as Tensor2D;
}

/**
 * The forward of toeplitzConvWeight without a gradient of its own, for use inside a hand-written
 * customGrad (e.g. a whole-model engine) where the tape is off.
 */
export function toeplitzWeightRaw(w: Tensor, spec: ToeplitzSpec): Tensor2D {
  const { steps: T, kernel: K, inChannels: C, outChannels: O, parts: P } = spec;
  const cs = toeplitzConsts(spec);
  const J = cs.stacked;
  if (w.size !== J * K * C * O) {
    throw new Error(`toeplitzConvWeight: weight has ${w.size} values, expected ${J}x${K}x${C}x${O}`);
  }
  const tO = cs.tOut;
  const y = tf.matMul(cs.select, tf.reshape(w, [J * K, C * O])); // [(t, p, s), (c, o)]
  return tf.reshape(tf.transpose(tf.reshape(y, [T, P * tO, C, O]), [0, 2, 1, 3]), [T * C, P * tO * O]) as Tensor2D;
}

/** Gradient of toeplitzWeightRaw: dWbig [T*C, P*T'*O] -> d(weights) as a flat [J*K*C*O] vector. */
export function toeplitzWeightGradRaw(dWbig: Tensor2D, spec: ToeplitzSpec): tf.Tensor1D {
  const { steps: T, inChannels: C, outChannels: O, parts: P } = spec;
  const cs = toeplitzConsts(spec);
  const tO = cs.tOut;
  const g = tf.reshape(tf.transpose(tf.reshape(dWbig, [T, C, P * tO, O]), [0, 2, 1, 3]), [T * P * tO, C * O]) as Tensor2D;
  return tf.reshape(tf.matMul(cs.selectT, g), [-1]);
}

/**
 * Consecutive runs of layout entries as flat tensors (one SplitV op, one concat in the gradient).
 * Each group lists entry names that must be adjacent in the layout, in layout order; every entry must
 * belong to exactly one group. Lets a model fold several same-shaped weights with one matMul.
 */
export function splitParamGroups(params: tf.Tensor1D, layout: ParamLayout, groups: string[][]): tf.Tensor1D[] {
  if (params.shape[0] !== layout.size) {
    throw new Error(`splitParamGroups: parameter vector has ${params.shape[0]} values, layout ${layout.modelName} needs ${layout.size}`);
  }
  let expectOffset = 0;
  const sizes: number[] = [];
  for (const g of groups) {
    let size = 0;
    for (const name of g) {
      const e = layout.entry(name);
      if (e.offset !== expectOffset + size) {
        throw new Error(`splitParamGroups: entry "${name}" is not next in layout ${layout.modelName} (groups must cover it in order)`);
      }
      size += e.size;
    }
    sizes.push(size);
    expectOffset += size;
  }
  if (expectOffset !== layout.size) throw new Error(`splitParamGroups: groups cover ${expectOffset} of ${layout.size} values`);
  return tf.split(params, sizes, 0) as tf.Tensor1D[];
}
