/**
 * 'adaln' (GPD's Transformer5, DiT's adaLN-Zero): nothing is added to the tokens; instead the step
 * and prompt embeddings, summed, set every layer norm's scale and shift and gate both residual
 * branches of every block. The modulation weights start at zero, so every block starts as the
 * identity and the network ignores step and prompts until training moves them.
 */
import { tf } from '../../runtime/backend.js';
import { dense, normalizeLastAxis, silu } from '../denoisers/layers.js';
import { defineConditioning, type ConditioningContext, type Tensor, type T2 } from './unit.js';

export const adaln = defineConditioning({
  name: 'adaln',
  norms: {
    // Per block: shift, scale, gate for attention, then for the MLP.
    initBlock: (p, b) => p.linear(`${b}.ada`, p.width, 6 * p.width, true),
    initFinal: (p) => p.linear('final.ada', p.width, 2 * p.width, true),
    begin: (ctx) => {
      // One conditioning vector per example.
      let sum: Tensor = ctx.step;
      for (const e of ctx.prompts) sum = tf.add(sum, e);
      const cond = silu(sum) as T2;
      const P = ctx.param;
      return {
        block: (b) => {
          const mods = tf.split(dense(cond, P(`${b}.ada.w`), P(`${b}.ada.b`)), 6, 1);
          return {
            norm: (h, k) => modulate(ctx, normalizeLastAxis(h) as T2, mods[3 * k]!, mods[3 * k + 1]!),
            gate: (x, k) => gated(ctx, x, mods[3 * k + 2]!),
          };
        },
        final: (h) => {
          const [shift, scale] = tf.split(dense(cond, P('final.ada.w'), P('final.ada.b')), 2, 1);
          return modulate(ctx, normalizeLastAxis(h) as T2, shift!, scale!);
        },
      };
    },
  },
  begin: () => ({}),
});

/** x * (1 + scale) + shift, per example. */
function modulate({ B, L, d }: ConditioningContext, x: T2, shift: Tensor, scale: Tensor): T2 {
  return tf.reshape(tf.add(tf.mul(tf.reshape(x, [B, L, d]), tf.add(1, tf.reshape(scale, [B, 1, d]))), tf.reshape(shift, [B, 1, d])), [B * L, d]) as T2;
}

/** x * gate, per example. */
function gated({ B, L, d }: ConditioningContext, x: T2, gate: Tensor): T2 {
  return tf.reshape(tf.mul(tf.reshape(x, [B, L, d]), tf.reshape(gate, [B, 1, d])), [B * L, d]) as T2;
}
