/**
 * 'pre-bias' (GPD's Transformer1, the reference's default): at the input, the step and temporal
 * prompt embeddings are added to every token, and the spatial prompt embedding only to tokens of
 * spatial-layer parameters. The inductive bias: the spatial prompt describes the graph
 * neighbourhood, which is what those weights mix, so only they should read it.
 */
import { addPerExample, defineConditioning } from './unit.js';

export const preBias = defineConditioning({
  name: 'pre-bias',
  begin: (ctx) => ({
    input: (h) => {
      h = addPerExample(ctx, h, ctx.step);
      if (ctx.temporal) h = addPerExample(ctx, h, ctx.temporal);
      if (ctx.spatial) h = addPerExample(ctx, h, ctx.spatial, ctx.spatialMask);
      return h;
    },
  }),
});
