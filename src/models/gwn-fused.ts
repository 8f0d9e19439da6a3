/**
 * Graph WaveNet's default engine: the whole network as ONE tf.customGrad op with a hand-written
 * backward, for the training path (batch norm with fixed statistics, no dropout). It computes the same
 * function as the taped forward in gwn.ts (kept as the 'autodiff' engine and cross-check; tests compare
 * outputs and gradients), only faster on wasm.
 *
 * Where the taped forward lost its time (tf.profile of a training step, batch 64, 6 nodes): ~990
 * kernels per step; the wasm Slice kernel copies its WHOLE input out of the heap on every call, and
 * the taped forward sliced time taps, gate halves and parameters ~55 times per step; graph
 * propagation `stack [5n, n] @ x [n, B*T*C]` made wasm re-pack the big right operand (and 5x as big in
 * the backward); the identity term was propagated through a matMul like the others.
 *
 * Choices here:
 * - Rows are TIME-major, (t, b, i): a time tap is a contiguous block of rows, so the two taps of a
 *   dilated conv, the residual and the skip tap are contiguous slices; no rank-3 slice loops. The two
 *   taps are stacked on a new leading axis and one rank-3 transpose interleaves them into im2col
 *   [rows, (tap, c)]. Output rows (b, i) come out in [B, n] order with no transpose.
 * - Filter and gate are separate matMuls (no column split of a [rows, 64] product, which wasm runs as
 *   a JS loop); tanh(f) is 2 sigmoid(2f) - 1 with the 2 folded into the filter weights (wasm's tanh is
 *   ~10x slower than its sigmoid).
 * - Graph propagation runs NODE-LAST: [(t, b, c), n] @ S [n, 4n] with S = [A | A^2 | A^T | (A^T)^2],
 *   so the tiny support matrix is the right operand (the one wasm packs); the identity term is not
 *   propagated, it is mixed directly (G @ W0 + terms @ W1..4).
 * - Parameters are read to JS once per call and every weight (and its transpose, for the backward) is
 *   uploaded as its own small tensor: no Slice of the 83,712-value vector.
 */
import { tf } from '../runtime/backend.js';
import type { ParamLayout } from './layout.js';
import type { ModelDims } from './types.js';
import { transposeTall } from './ops.js';

type Tensor = tf.Tensor;
type Tensor2D = tf.Tensor2D;

export interface GwnFusedSpec {
  layout: ParamLayout;
  dims: ModelDims;
  channels: number;
  dilations: readonly number[];
  receptiveField: number;
  bnEps: number;
}

/** [rows, cols] row-major -> its transpose [cols, rows], in JS (weights only: a few thousand values). */
function transposeJs(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

/** Number of support terms propagated (A, A^2, A^T, (A^T)^2); the identity term is mixed directly. */
const HOPS = 4;

/**
 * The fused forward: `(params [P], x [B, n, inSteps, F], adjacency [n, n]) -> [B, n, outSteps]`, with
 * gradients to `params` only (x and the adjacency are data).
 */
export function gwnFusedForward(spec: GwnFusedSpec): (params: tf.Tensor1D, x: tf.Tensor4D, adjacency: Tensor2D) => tf.Tensor3D {
  const { layout, dims: d, channels: C, dilations, receptiveField: RF, bnEps } = spec;
  const LAYERS = dilations.length;
  const F = d.inFeatures;
  const H = d.outSteps;
  const bnScale = 1 / Math.sqrt(1 + bnEps);
  const at = (name: string) => layout.entry(name).offset;
  // Steps of every layer: input s, dilation, output o = s - dilation.
  const shapes: { s: number; dil: number; o: number }[] = [];
  for (let i = 0, s = RF; i < LAYERS; i++) {
    const dil = dilations[i]!;
    shapes.push({ s, dil, o: s - dil });
    s -= dil;
  }

  return (params, x, adjacency) => {
    const [B, n, T] = x.shape;
    const NB = B * n;
    const op = tf.customGrad((pIn: Tensor | tf.GradSaveFunc, save: Tensor | tf.GradSaveFunc) => {
      const pv = (pIn as tf.Tensor1D).dataSync() as Float32Array;
      const part = (name: string, size: number, from = 0) => pv.subarray(at(name) + from, at(name) + from + size);
      const mat = (values: Float32Array, rows: number, cols: number) => tf.tensor2d(values, [rows, cols]);
      const CC = C * C;

      // Input, time-major rows (t, b, i), cut or left-padded to the receptive field.
      let xt = tf.transpose(x, [2, 0, 1, 3]) as tf.Tensor4D; // [T, B, n, F]
      if (T > RF) xt = tf.slice(xt, [T - RF, 0, 0, 0], [RF, B, n, F]);
      else if (T < RF) xt = tf.pad(xt, [[RF - T, 0], [0, 0], [0, 0], [0, 0]]);
      const inp = tf.reshape(xt, [RF * NB, F]) as Tensor2D;
      const adjT = tf.transpose(adjacency) as Tensor2D;
      const supports = tf.concat([adjacency, tf.matMul(adjacency, adjacency), adjT, tf.matMul(adjT, adjT)], 1) as Tensor2D; // [n, 4n]

      let h = tf.matMul(inp, mat(part('start', F * C), F, C)); // [RF*NB, C]
      const saved: Tensor[] = [inp, supports];
      const taps: Tensor[] = [];
      // Per layer, the JS-side weights the backward needs again: filter x 2 and the batch-norm scale.
      const filters2: Float32Array[] = [];
      const bnScales: Float32Array[] = [];
      for (let i = 0; i < LAYERS; i++) {
        const { dil, o } = shapes[i]!;
        const rows = o * NB;
        const early = tf.slice(h, [0, 0], [rows, C]);
        const late = tf.slice(h, [dil * NB, 0], [rows, C]);
        const taps2 = tf.reshape(tf.concat([early, late], 0), [2, rows, C]); // [tap, (t, b, i), c]
        const cols = tf.reshape(tf.transpose(taps2, [1, 0, 2]), [rows, 2 * C]) as Tensor2D;
        filters2[i] = part(`filter.${i}`, 2 * CC).map((v) => 2 * v); // tanh(f) = 2 sigmoid(2f) - 1
        const sf = tf.sigmoid(tf.matMul(cols, mat(filters2[i]!, 2 * C, C)));
        const sg = tf.sigmoid(tf.matMul(cols, mat(part(`gate.${i}`, 2 * CC), 2 * C, C)));
        const g = tf.mul(tf.sub(tf.mul(sf, 2), 1), sg) as Tensor2D; // gated output [(t, b, i), c]
        taps.push(tf.slice(g, [(o - 1) * NB, 0], [NB, C]));
        saved.push(taps2, sf, sg);
        if (i === LAYERS - 1) break; // the last layer's graph conv, residual and norm feed nothing

        // Diffusion graph conv, node-last: [(t, b), c, n] @ supports -> [(t, b), c, (hop, n)].
        const gNodeLast = tf.reshape(tf.transpose(tf.reshape(g, [o * B, n, C]), [0, 2, 1]), [o * B * C, n]) as Tensor2D;
        const hops = tf.matMul(gNodeLast, supports); // [(t, b, c), (hop, n)]
        const hopRows = tf.reshape(tf.transpose(tf.reshape(hops, [o * B, C, HOPS, n]), [0, 3, 2, 1]), [rows, HOPS * C]) as Tensor2D;
        const w0 = mat(part(`gconv.${i}`, CC), C, C);
        const wHops = mat(part(`gconv.${i}`, HOPS * CC, CC), HOPS * C, C);
        const pre = tf.add(tf.add(tf.matMul(g, w0), tf.matMul(hopRows, wHops)), late); // + residual
        bnScales[i] = part(`bn.${i}.weight`, C).map((v) => v * bnScale);
        h = tf.add(tf.mul(pre, tf.tensor1d(bnScales[i]!)), tf.tensor1d(part(`bn.${i}.bias`, C)));
        saved.push(g, hops, pre);
      }
      const tapStack = tf.reshape(tf.concat(taps, 0), [LAYERS, NB, C]);
      const skipIn = tf.reshape(tf.transpose(tapStack, [1, 0, 2]), [NB, LAYERS * C]) as Tensor2D;
      const skip = tf.relu(tf.matMul(skipIn, mat(part('skip.0', LAYERS * CC), LAYERS * C, C)));
      const e1 = tf.relu(tf.matMul(skip, mat(part('end1', CC), C, C)));
      const y = tf.matMul(e1, mat(part('end2', C * H), C, H));
      saved.push(tapStack, skip, e1);
      (save as tf.GradSaveFunc)(saved);

      return {
        value: tf.reshape(y, [B, n, H]) as tf.Tensor3D,
        gradFunc: (dy: Tensor, s: Tensor[]) => {
          // Weight transposes for the input gradients, built in JS from the same parameter values.
          const matT = (values: Float32Array, rows: number, cols: number) => tf.tensor2d(transposeJs(values, rows, cols), [cols, rows]);
          let k = 0;
          const sInp = s[k++] as Tensor2D;
          const sSupports = s[k++] as Tensor2D;
          const perLayer: { taps2: Tensor; sf: Tensor; sg: Tensor; g?: Tensor2D; hops?: Tensor; pre?: Tensor }[] = [];
          for (let i = 0; i < LAYERS; i++) {
            const layer: (typeof perLayer)[number] = { taps2: s[k++]!, sf: s[k++]!, sg: s[k++]! };
            if (i < LAYERS - 1) Object.assign(layer, { g: s[k++] as Tensor2D, hops: s[k++]!, pre: s[k++]! });
            perLayer.push(layer);
          }
          const [sTapStack, sSkip, sE1] = [s[k++]!, s[k++] as Tensor2D, s[k++] as Tensor2D];

          const dY = tf.reshape(dy, [NB, H]) as Tensor2D;
          const dEnd2 = tf.matMul(transposeTall(sE1), dY);
          const dE1 = tf.mul(tf.matMul(dY, matT(part('end2', C * H), C, H)), tf.step(sE1)) as Tensor2D;
          const dEnd1 = tf.matMul(transposeTall(sSkip), dE1);
          const dSkip = tf.mul(tf.matMul(dE1, matT(part('end1', CC), C, C)), tf.step(sSkip)) as Tensor2D;
          const skipInT = tf.reshape(tf.transpose(sTapStack, [0, 2, 1]), [LAYERS * C, NB]) as Tensor2D;
          const dSkipW = tf.matMul(skipInT, dSkip);

          const dFilter: Tensor[] = [];
          const dGate: Tensor[] = [];
          const dBn: Tensor[] = [];
          const dGconv: Tensor[] = [];
          let dh: Tensor2D | null = null; // d(output of layer i), rows of layer i
          for (let i = LAYERS - 1; i >= 0; i--) {
            const { dil, o } = shapes[i]!;
            const rows = o * NB;
            const L = perLayer[i]!;
            // The skip tap read the last step of the gated output.
            let dG: Tensor2D = tf.pad(tf.matMul(dSkip, matT(part('skip.0', CC, i * CC), C, C)), [[(o - 1) * NB, 0], [0, 0]]) as Tensor2D;
            let dLateResidual: Tensor2D | null = null;
            if (i < LAYERS - 1) {
              const dOut = dh!;
              dBn[i] = tf.concat([tf.mul(tf.sum(tf.mul(dOut, L.pre!), 0), bnScale), tf.sum(dOut, 0)]);
              const dPre = tf.mul(dOut, tf.tensor1d(bnScales[i]!)) as Tensor2D;
              const hopRowsT = tf.reshape(tf.transpose(tf.reshape(L.hops!, [o * B, C, HOPS, n]), [2, 1, 0, 3]), [HOPS * C, rows]) as Tensor2D;
              dGconv[i] = tf.concat([tf.reshape(tf.matMul(transposeTall(L.g!), dPre), [-1]), tf.reshape(tf.matMul(hopRowsT, dPre), [-1])]);
              const dHopRows = tf.matMul(dPre, matT(part(`gconv.${i}`, HOPS * CC, CC), HOPS * C, C)); // [rows, 4C]
              const dHops = tf.reshape(tf.transpose(tf.reshape(dHopRows, [o * B, n, HOPS, C]), [0, 3, 2, 1]), [o * B * C, HOPS * n]) as Tensor2D;
              const dGNodeLast = tf.matMul(dHops, tf.transpose(sSupports)); // [(t, b, c), n]
              const dGHops = tf.reshape(tf.transpose(tf.reshape(dGNodeLast, [o * B, C, n]), [0, 2, 1]), [rows, C]);
              dG = tf.add(tf.add(dG, dGHops), tf.matMul(dPre, matT(part(`gconv.${i}`, CC), C, C))) as Tensor2D;
              dLateResidual = dPre;
            } else {
              dBn[i] = tf.zeros([2 * C]);
              dGconv[i] = tf.zeros([(HOPS + 1) * CC]);
            }
            // g = (2 sf - 1) * sg with sf = sigmoid(zf), sg = sigmoid(zg).
            const dZf = tf.mul(tf.mul(dG, tf.mul(L.sg, 2)), tf.mul(L.sf, tf.sub(1, L.sf))) as Tensor2D;
            const dZg = tf.mul(tf.mul(dG, tf.sub(tf.mul(L.sf, 2), 1)), tf.mul(L.sg, tf.sub(1, L.sg))) as Tensor2D;
            const colsT = tf.reshape(tf.transpose(L.taps2, [0, 2, 1]), [2 * C, rows]) as Tensor2D; // [(tap, c), rows]
            dFilter[i] = tf.reshape(tf.mul(tf.matMul(colsT, dZf), 2), [-1]);
            dGate[i] = tf.reshape(tf.matMul(colsT, dZg), [-1]);
            // Input gradient, per tap: early rows 0..o-1, late rows dil..dil+o-1 of the layer input.
            const wf = filters2[i]!;
            const wg = part(`gate.${i}`, 2 * CC);
            const dTap = (tap: number) =>
              tf.add(tf.matMul(dZf, matT(wf.subarray(tap * CC, (tap + 1) * CC), C, C)), tf.matMul(dZg, matT(wg.subarray(tap * CC, (tap + 1) * CC), C, C))) as Tensor2D;
            const dEarly = dTap(0);
            const dLate = dLateResidual ? tf.add(dTap(1), dLateResidual) : dTap(1);
            dh = tf.add(tf.pad(dEarly, [[0, dil * NB], [0, 0]]), tf.pad(dLate, [[dil * NB, 0], [0, 0]])) as Tensor2D;
          }
          const dStart = tf.matMul(transposeTall(sInp), dh!);
          // Gradient pieces in layout order (gwnParamSpecs): filter, gate, skip, bn, gconv, start, end1, end2.
          return tf.concat([
            ...dFilter,
            ...dGate,
            tf.reshape(dSkipW, [-1]),
            ...dBn,
            ...dGconv,
            tf.reshape(dStart, [-1]),
            tf.reshape(dEnd1, [-1]),
            tf.reshape(dEnd2, [-1]),
          ]);
        },
      };
    });
    return op(params) as tf.Tensor3D;
  };
}
