/**
 * 'pre' (GPD's Transformer2): the step and every prompt embedding are added to all tokens at the
 * input, once; the blocks are a plain transformer.
 */
import { addPerExample, defineConditioning } from './unit.js';

export const pre = defineConditioning({
  name: 'pre',
  begin: (ctx) => ({
    input: (h) => {
      h = addPerExample(ctx, h, ctx.step);
      for (const e of ctx.prompts) h = addPerExample(ctx, h, e);
      return h;
    },
  }),
});
