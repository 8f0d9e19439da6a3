/**
 * Adam on one flat parameter vector: the trainable state of every forecaster is ONE tf.Variable
 * holding the flat vector a Forecaster takes, so the optimiser is a handful of elementwise ops per
 * step whatever the model's layer count.
 */
import { tf } from '../runtime/backend.js';

/** A variable from a temporary tensor (the variable shares its data; the temporary would otherwise leak). */
export function variableFrom(t: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

export interface AdamOptions {
  lr: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export interface AdamState {
  m: Float32Array;
  v: Float32Array;
  t: number;
}

/**
 * Adam on one flat parameter vector with PyTorch's semantics (torch.optim.Adam): weight decay is an
 * L2 term added to the gradient (not AdamW), bias-corrected moments, eps added to sqrt(v_hat).
 * A few elementwise ops per step whatever the model's layer count.
 */
export class FlatAdam {
  private readonly m: tf.Variable;
  private readonly v: tf.Variable;
  private t = 0;
  private readonly lr: number;
  private readonly wd: number;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;

  constructor(size: number, opts: AdamOptions) {
    this.lr = opts.lr;
    this.wd = opts.weightDecay ?? 0;
    this.b1 = opts.beta1 ?? 0.9;
    this.b2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.m = variableFrom(tf.zeros([size]), false);
    this.v = variableFrom(tf.zeros([size]), false);
  }

  /** One update of `params` in place from `grad` (call inside tf.tidy or dispose `grad` yourself). */
  step(params: tf.Variable, grad: tf.Tensor): void {
    this.t++;
    const { b1, b2 } = this;
    tf.tidy(() => {
      const g = this.wd !== 0 ? tf.add(grad, tf.mul(params, this.wd)) : grad;
      this.m.assign(tf.add(tf.mul(this.m, b1), tf.mul(g, 1 - b1)));
      this.v.assign(tf.add(tf.mul(this.v, b2), tf.mul(tf.square(g), 1 - b2)));
      const bc1 = 1 - Math.pow(b1, this.t);
      const bc2 = 1 - Math.pow(b2, this.t);
      const denom = tf.add(tf.div(tf.sqrt(this.v), Math.sqrt(bc2)), this.eps);
      params.assign(tf.sub(params, tf.mul(tf.div(this.m, denom), this.lr / bc1)));
    });
  }

  /** The moments and step count (a checkpoint); `restore` continues from exactly there. */
  snapshot(): AdamState {
    return { m: (this.m.dataSync() as Float32Array).slice(), v: (this.v.dataSync() as Float32Array).slice(), t: this.t };
  }

  restore(state: AdamState): void {
    if (state.m.length !== this.m.size || state.v.length !== this.v.size) throw new Error(`Adam state holds ${state.m.length} values, the optimiser ${this.m.size}`);
    tf.tidy(() => {
      this.m.assign(tf.tensor1d(state.m));
      this.v.assign(tf.tensor1d(state.v));
    });
    this.t = state.t;
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }
}
