import type * as tfTypes from '@tensorflow/tfjs';
import type { ParamLayout } from './layout.js';

/** Sizes that fix a forecaster's layout. */
export interface ModelDims {
  /** Input features per node and step (value + time of day = 2). */
  inFeatures: number;
  /** Input steps (12). */
  inSteps: number;
  /** Output steps (6). */
  outSteps: number;
}

/**
 * A forecaster as a pure function of (params, inputs, graph). Both STGCN and Graph WaveNet
 * implement this, which is what lets the bank, the generator and fine-tuning share one format.
 */
export interface Forecaster {
  readonly name: 'stgcn' | 'gwn';
  readonly dims: ModelDims;
  readonly layout: ParamLayout;
  /**
   * The layout entry of the last linear layer. Both models are bias-free, so scaling this entry by a
   * scales every forecast (the network's output z) by a: a parameter vector can express "a times the
   * correction" (transfer/shrink.ts).
   */
  readonly outputLayer: string;
  /**
   * x: [B, n, inSteps, inFeatures] (n = subgraph nodes), adjacency: [n, n] row-normalised with
   * self-loops. Returns predictions [B, n, outSteps] for every node of the subgraph (losses use
   * the centre node, index 0).
   */
  forward(params: tfTypes.Tensor1D, x: tfTypes.Tensor4D, adjacency: tfTypes.Tensor2D, opts?: { training?: boolean }): tfTypes.Tensor3D;
}
