/**
 * 'post-adaptive' (GPD's Transformer4): every block gets a cross-attention sub-layer after its
 * self-attention, from the tokens to the prompt embeddings (pre-LN, residual, multi-head). The step
 * is added to all tokens at the input.
 */
import { tf } from '../../runtime/backend.js';
import { attendToContext, dense, layerNorm } from '../denoisers/layers.js';
import { addPerExample, defineConditioning, type T2 } from './unit.js';

export const postAdaptive = defineConditioning({
  name: 'post-adaptive',
  initAfterAttention: (p, b) => {
    const d = p.width;
    p.layerNorm(`${b}.lnx`);
    for (const x of ['xq', 'xk', 'xv', 'xo']) p.linear(`${b}.${x}`, d, d);
  },
  begin: (ctx) => {
    const P = ctx.param;
    return {
      input: (h) => addPerExample(ctx, h, ctx.step),
      afterAttention: (h, b) => {
        if (ctx.prompts.length === 0) return h;
        const q = dense(layerNorm(h, P(`${b}.lnx.g`), P(`${b}.lnx.b`)), P(`${b}.xq.w`), P(`${b}.xq.b`));
        const keys = ctx.prompts.map((e) => dense(e, P(`${b}.xk.w`), P(`${b}.xk.b`)));
        const vals = ctx.prompts.map((e) => dense(e, P(`${b}.xv.w`), P(`${b}.xv.b`)));
        return tf.add(h, dense(attendToContext(q, keys, vals, ctx.B, ctx.L, ctx.heads), P(`${b}.xo.w`), P(`${b}.xo.b`))) as T2;
      },
    };
  },
});
