/**
 * A synthetic "parameter bank" with a known answer, to check that a conditional generator really
 * learns the prompt -> parameters map: x = f(spatial, temporal) + noise, where
 * - the layout looks like a small STGCN (temporal convolutions, a 'spatial' graph-conv Theta, a head),
 * - the spatial entry is a fixed random 2-layer tanh map of the spatial prompt only, every other entry
 *   a tanh map of the temporal prompt only (so conditioning with the inductive bias is meaningful),
 * - each entry has its own scale and per-position offset (so tokens differ and normalisation matters).
 *
 * A test fixture (beside the tests that use it, like the other test/<area> fixtures) that the
 * diffusion bench reuses for its conditional-generation section; nothing in src/ needs it.
 */
import { ParamLayout, type ParamSpec } from '../../src/models/layout.js';
import { Rng } from '../../src/util/prng.js';
import { TransformerDenoiser, type ConditioningStrategy, type TransformerConfig } from '../../src/diffusion/denoisers/transformer.js';
import { trainDenoiser, type TrainOptions } from '../../src/diffusion/trainer.js';
import { Generator, makeGeneratorConfig, processFromConfig, type GenerateOptions, type ProcessConfig } from '../../src/diffusion/generator.js';
import { clipRangeFromBank, fitNormalizer, normalize, type TokenizationSpec } from '../../src/diffusion/tokenize.js';

export interface SyntheticConditionalOptions {
  /** Channels of the toy network; P grows ~ 3 * channels^2 (channels 16 -> 1,238 values). */
  channels?: number;
  spatialDim?: number;
  temporalDim?: number;
  /** Hidden units of the tanh maps. */
  hidden?: number;
  /** Std of the per-vector noise, relative to each entry's scale. */
  noise?: number;
  seed?: number;
}

export interface SyntheticExample {
  spatial: Float32Array;
  temporal: Float32Array;
  /** Noisy parameter vector (what a bank would hold). */
  params: Float32Array;
  /** The noise-free f(prompt). */
  truth: Float32Array;
}

export class SyntheticConditional {
  readonly layout: ParamLayout;
  readonly spatialDim: number;
  readonly temporalDim: number;
  private readonly noise: number;
  private readonly maps: { entry: number; from: 'spatial' | 'temporal'; w1: Float64Array; b1: Float64Array; w2: Float64Array; offset: Float64Array; scale: number }[];
  private readonly hidden: number;

  constructor(opts: SyntheticConditionalOptions = {}) {
    const C = opts.channels ?? 16;
    this.spatialDim = opts.spatialDim ?? 4;
    this.temporalDim = opts.temporalDim ?? 3;
    this.hidden = opts.hidden ?? 16;
    this.noise = opts.noise ?? 0.05;
    const rng = new Rng(opts.seed ?? 20240101);
    const specs: ParamSpec[] = [
      { name: 'tconv1.w', shape: [C, 2, 3], init: { kind: 'uniform', bound: 0.4 }, role: 'temporal' },
      { name: 'gconv.theta', shape: [C, C, 2], init: { kind: 'uniform', bound: 0.25 }, role: 'spatial' },
      { name: 'tconv2.w', shape: [C, C, 2], init: { kind: 'uniform', bound: 0.18 }, role: 'temporal' },
      { name: 'norm.g', shape: [C], init: { kind: 'const', value: 1 }, role: 'norm' },
      { name: 'head.w', shape: [C, 6], init: { kind: 'uniform', bound: 0.25 }, role: 'head' },
      { name: 'head.b', shape: [6], init: { kind: 'const', value: 0 }, role: 'head' },
    ];
    this.layout = new ParamLayout('synthetic-conditional', specs);
    const H = this.hidden;
    this.maps = this.layout.entries.map((e, k) => {
      const from = e.role === 'spatial' ? 'spatial' : 'temporal';
      const din = from === 'spatial' ? this.spatialDim : this.temporalDim;
      const scale = 0.1 + 0.4 * rng.uniform();
      const w1 = Float64Array.from({ length: din * H }, () => rng.normal() * (1.2 / Math.sqrt(din)));
      const b1 = Float64Array.from({ length: H }, () => rng.normal() * 0.3);
      const w2 = Float64Array.from({ length: H * e.size }, () => rng.normal() / Math.sqrt(H));
      const offset = Float64Array.from({ length: e.size }, () => rng.normal() * 0.5);
      return { entry: k, from, w1, b1, w2, offset, scale };
    });
  }

  /** The noise-free parameter vector for one prompt pair. */
  f(spatial: Float32Array, temporal: Float32Array): Float32Array {
    const out = new Float32Array(this.layout.size);
    const H = this.hidden;
    const h = new Float64Array(H);
    for (const m of this.maps) {
      const e = this.layout.entries[m.entry]!;
      const z = m.from === 'spatial' ? spatial : temporal;
      for (let j = 0; j < H; j++) {
        let s = m.b1[j]!;
        for (let i = 0; i < z.length; i++) s += z[i]! * m.w1[i * H + j]!;
        h[j] = Math.tanh(s);
      }
      for (let p = 0; p < e.size; p++) {
        let s = m.offset[p]!;
        for (let j = 0; j < H; j++) s += h[j]! * m.w2[j * e.size + p]!;
        out[e.offset + p] = m.scale * s;
      }
    }
    return out;
  }

  /** n examples with prompts ~ N(0, I) from rng. */
  sample(n: number, rng: Rng): SyntheticExample[] {
    const out: SyntheticExample[] = [];
    for (let i = 0; i < n; i++) {
      const spatial = rng.normalArray(this.spatialDim);
      const temporal = rng.normalArray(this.temporalDim);
      const truth = this.f(spatial, temporal);
      const params = new Float32Array(truth.length);
      for (const m of this.maps) {
        const e = this.layout.entries[m.entry]!;
        for (let p = e.offset; p < e.offset + e.size; p++) params[p] = truth[p]! + this.noise * m.scale * rng.normal();
      }
      out.push({ spatial, temporal, params, truth });
    }
    return out;
  }
}

/** Root-mean-square difference of two vectors. */
export function rmsError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`rmsError: lengths differ (${a.length} vs ${b.length})`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s / a.length);
}

// ---------------------------------------------------------------------------------------------
// The conditional-generation experiment shared by test/diffusion/conditional.test.ts and bench/diffusion.ts.

export interface ConditionalExperimentOptions {
  data?: SyntheticConditionalOptions;
  train: number;
  heldOut: number;
  testPrompts: number;
  samplesPerPrompt: number;
  denoiser: Omit<TransformerConfig, 'spatialDim' | 'temporalDim' | 'strategy' | 'timeScale' | 'tokenization'> & { tokenization: TokenizationSpec };
  process: ProcessConfig;
  training: Omit<TrainOptions, 'validation' | 'seed'>;
  seed: number;
}

export interface ConditionalResult {
  strategy: ConditioningStrategy;
  /** Mean over test prompts of RMS(bank mean - f(prompt)). */
  bankMeanError: number;
  /** Mean over test prompts of RMS(mean of samples - f(prompt)), per sampler. */
  errors: Record<string, number>;
  trainSeconds: number;
  steps: number;
}

/** Train one generator for `strategy` on the synthetic set and score it with each sampler in `samplers`. */
export async function runConditionalExperiment(
  strategy: ConditioningStrategy,
  o: ConditionalExperimentOptions,
  samplers: Record<string, Omit<GenerateOptions, 'seed' | 'samples'>>,
): Promise<ConditionalResult> {
  const syn = new SyntheticConditional(o.data);
  const root = new Rng(o.seed);
  const train = syn.sample(o.train, root.fork('train'));
  const held = syn.sample(o.heldOut, root.fork('held-out'));
  const test = syn.sample(o.testPrompts, root.fork('test'));
  const bank = train.map((e) => e.params);
  const norm = fitNormalizer(bank);
  const clip = clipRangeFromBank(norm, bank);
  const model = new TransformerDenoiser(
    syn.layout,
    { ...o.denoiser, spatialDim: syn.spatialDim, temporalDim: syn.temporalDim, strategy, timeScale: o.process.kind === 'flow' ? 1000 : 1 },
    root.fork('init'),
  );
  const process = processFromConfig(o.process, clip);
  const asSet = (xs: SyntheticExample[]) => ({ x0: xs.map((e) => normalize(norm, e.params)), spatial: xs.map((e) => e.spatial), temporal: xs.map((e) => e.temporal) });
  const t0 = Date.now();
  const result = await trainDenoiser(model, process, asSet(train), { ...o.training, validation: asSet(held), seed: root.fork('trainer').seed });
  const trainSeconds = (Date.now() - t0) / 1000;
  model.setWeights(result.weights);
  const gen = new Generator(makeGeneratorConfig(model, o.process), model, norm, clip);

  const P = syn.layout.size;
  const bankMean = new Float32Array(P);
  for (const v of bank) for (let p = 0; p < P; p++) bankMean[p]! += v[p]! / bank.length;
  const bankMeanError = test.reduce((s, e) => s + rmsError(bankMean, e.truth), 0) / test.length;
  const errors: Record<string, number> = {};
  for (const [name, so] of Object.entries(samplers)) {
    const S = o.samplesPerPrompt;
    const out = gen.generate({ spatial: test.map((e) => e.spatial), temporal: test.map((e) => e.temporal) }, { ...so, seed: root.fork(`sample:${name}`).seed, samples: S });
    let err = 0;
    test.forEach((e, i) => {
      const mean = new Float32Array(P);
      for (let s = 0; s < S; s++) {
        const v = out[i * S + s]!;
        for (let p = 0; p < P; p++) mean[p]! += v[p]! / S;
      }
      err += rmsError(mean, e.truth);
    });
    errors[name] = err / test.length;
  }
  gen.dispose();
  return { strategy, bankMeanError, errors, trainSeconds, steps: result.step };
}
