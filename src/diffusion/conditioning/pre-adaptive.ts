/**
 * 'pre-adaptive' (GPD's Transformer3): each token picks its own condition by attending (one head,
 * softmax over the prompt embeddings) from a query of its input, and that condition is added to the
 * residual stream before every block. The step is added to all tokens at the input.
 */
import { tf } from '../../runtime/backend.js';
import { attendToContext, dense } from '../denoisers/layers.js';
import { addPerExample, defineConditioning, type T2 } from './unit.js';

export const preAdaptive = defineConditioning({
  name: 'pre-adaptive',
  initBeforeBlocks: (p) => p.linear('adapt', p.width, p.width),
  begin: (ctx) => {
    // One condition per token [B * L, d], chosen once from the blocks' input.
    let tokenCondition: T2 | null = null;
    return {
      input: (h) => {
        h = addPerExample(ctx, h, ctx.step);
        if (ctx.prompts.length > 0) {
          const query = tf.tanh(dense(tf.reshape(h, [ctx.B * ctx.L, ctx.d]), ctx.param('adapt.w'), ctx.param('adapt.b'))) as T2;
          tokenCondition = attendToContext(query, ctx.prompts, ctx.prompts, ctx.B, ctx.L, 1);
        }
        return h;
      },
      beforeBlock: (h) => (tokenCondition ? (tf.add(h, tokenCondition) as T2) : h),
    };
  },
});
