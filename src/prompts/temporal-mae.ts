/**
 * Learned temporal prompt: a small masked autoencoder over day-long windows (the reference's
 * temporal embedding is likewise self-supervised on the regions' series).
 *
 * One sample = one region-day, binned by time of day (fixed bins, so cities with different intervals
 * share the input space) in two channels: the region's own z-scored values and the mean of its
 * neighbours' (its subgraph's context). Training hides a random subset of time bins in both channels
 * and reconstructs them, so the code must capture the daily shape. A region's embedding is the code
 * of each available day (nothing hidden), averaged over the days.
 *
 * Trained with tfjs on SOURCE data only; applied in plain JS (a 2-layer encoder is cheap), so
 * building prompts needs no tensor backend and is exactly reproducible.
 */
import type { City } from '../data/city.js';
import { DataError } from '../data/city.js';
import { initBackend, tf } from '../runtime/backend.js';
import { Rng } from '../util/prng.js';
import { undirectedNeighbours } from './spatial.js';
import { dailyBins, regionProfiles, type CityProfiles, type ProfileOptions } from './temporal-profile.js';
import type { StepRange } from '../data/range.js';

export interface MaeConfig {
  /** Time-of-day bins per day (input has 2 channels x bins values + 2 x bins availability flags). */
  bins: number;
  hidden: number;
  embedDim: number;
  /** Fraction of bins hidden per training sample. */
  maskRatio: number;
  /** Loss weight of visible bins relative to hidden ones (keeps the identity path honest). */
  visibleWeight: number;
  steps: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export const DEFAULT_MAE_CONFIG: MaeConfig = {
  bins: 24,
  hidden: 64,
  embedDim: 16,
  maskRatio: 0.5,
  visibleWeight: 0.1,
  steps: 400,
  batchSize: 128,
  learningRate: 3e-3,
  seed: 1,
};

/** Region-day samples: channel 0 = the region, channel 1 = mean of its neighbours. */
export interface DaySamples {
  count: number;
  bins: number;
  /** [count, 2 * bins] z-values (0 where unavailable). */
  values: Float32Array;
  /** [count, 2 * bins] 1 = observed. */
  avail: Uint8Array;
  /** Region (node index) of each sample. */
  region: Int32Array;
}

/** Weight names and shapes, in order: encoder (w1, b1, w2, b2), decoder (w3, b3, w4, b4). */
export function weightShapes(c: MaeConfig): Record<MaeWeightName, number[]> {
  const I = 4 * c.bins;
  return {
    w1: [I, c.hidden],
    b1: [c.hidden],
    w2: [c.hidden, c.embedDim],
    b2: [c.embedDim],
    w3: [c.embedDim, c.hidden],
    b3: [c.hidden],
    w4: [c.hidden, 2 * c.bins],
    b4: [2 * c.bins],
  };
}

export const MAE_WEIGHT_NAMES = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3', 'w4', 'b4'] as const;
export type MaeWeightName = (typeof MAE_WEIGHT_NAMES)[number];

export interface TemporalMae {
  config: MaeConfig;
  weights: Record<MaeWeightName, Float32Array>;
}

/**
 * Region-day samples of a city over a range (every region, every whole day of the range); days on
 * which the region has no observed reading are skipped.
 */
export function regionDaySamples(
  city: City,
  range: StepRange,
  opts: Pick<ProfileOptions, 'bins' | 'feature'>,
  context?: { profiles?: CityProfiles; nbrs?: Int32Array[] },
): DaySamples {
  const popts = { bins: opts.bins, feature: opts.feature, harmonics: 0 };
  const profiles = context?.profiles ?? regionProfiles(city, range, popts);
  const nbrs = context?.nbrs ?? undirectedNeighbours(city);
  const db = dailyBins(city, range, profiles, popts);
  const B = db.bins;
  const D = db.days;
  const rows: number[] = [];
  for (let n = 0; n < city.N; n++) {
    for (let d = 0; d < D; d++) {
      const o = (n * D + d) * B;
      let any = false;
      for (let b = 0; b < B && !any; b++) any = db.avail[o + b] === 1;
      if (any) rows.push(n * D + d);
    }
  }
  const count = rows.length;
  const values = new Float32Array(count * 2 * B);
  const avail = new Uint8Array(count * 2 * B);
  const region = new Int32Array(count);
  const nsum = new Float64Array(B);
  const ncnt = new Int32Array(B);
  rows.forEach((row, r) => {
    const n = Math.floor(row / D);
    const d = row % D;
    region[r] = n;
    const o = r * 2 * B;
    const src = row * B;
    for (let b = 0; b < B; b++) {
      values[o + b] = db.values[src + b]!;
      avail[o + b] = db.avail[src + b]!;
    }
    nsum.fill(0);
    ncnt.fill(0);
    for (const m of nbrs[n]!) {
      const ms = (m * D + d) * B;
      for (let b = 0; b < B; b++) {
        if (db.avail[ms + b]) {
          nsum[b] += db.values[ms + b]!;
          ncnt[b]++;
        }
      }
    }
    for (let b = 0; b < B; b++) {
      if (ncnt[b]! > 0) {
        values[o + B + b] = nsum[b]! / ncnt[b]!;
        avail[o + B + b] = 1;
      }
    }
  });
  return { count, bins: B, values, avail, region };
}

export function concatSamples(parts: DaySamples[]): DaySamples {
  if (parts.length === 0) throw new DataError('no day samples to train the temporal autoencoder on');
  const B = parts[0]!.bins;
  for (const p of parts) if (p.bins !== B) throw new Error(`concatSamples: bins differ (${p.bins} vs ${B})`);
  const count = parts.reduce((a, p) => a + p.count, 0);
  const values = new Float32Array(count * 2 * B);
  const avail = new Uint8Array(count * 2 * B);
  const region = new Int32Array(count);
  let k = 0;
  for (const p of parts) {
    values.set(p.values, k * 2 * B);
    avail.set(p.avail, k * 2 * B);
    region.set(p.region, k);
    k += p.count;
  }
  return { count, bins: B, values, avail, region };
}

export function checkConfig(c: MaeConfig): void {
  const ints: (keyof MaeConfig)[] = ['bins', 'hidden', 'embedDim', 'steps', 'batchSize'];
  for (const k of ints) if (!Number.isInteger(c[k]) || (c[k] as number) < 1) throw new Error(`temporal MAE config: ${k} must be a positive integer, got ${c[k]}`);
  if (!(c.maskRatio > 0 && c.maskRatio < 1)) throw new Error(`temporal MAE config: maskRatio must be in (0, 1), got ${c.maskRatio}`);
  if (!(c.learningRate > 0)) throw new Error(`temporal MAE config: learningRate must be > 0, got ${c.learningRate}`);
  if (!(c.visibleWeight >= 0)) throw new Error(`temporal MAE config: visibleWeight must be >= 0, got ${c.visibleWeight}`);
}

function initWeights(c: MaeConfig, rng: Rng): Record<MaeWeightName, Float32Array> {
  const shapes = weightShapes(c);
  const out = {} as Record<MaeWeightName, Float32Array>;
  for (const name of MAE_WEIGHT_NAMES) {
    const shape = shapes[name];
    if (shape.length === 1) {
      out[name] = new Float32Array(shape[0]!);
    } else {
      const bound = Math.sqrt(6 / (shape[0]! + shape[1]!)); // Glorot-uniform: keeps tanh codes unsaturated at init
      out[name] = rng.uniformArray(shape[0]! * shape[1]!, -bound, bound);
    }
  }
  return out;
}

/** Hide a random maskRatio of the bins (same bins in both channels) of sample `s` into `keep`. */
function drawMask(samples: DaySamples, s: number, ratio: number, rng: Rng, keep: Float32Array, o: number): void {
  const B = samples.bins;
  const a = s * 2 * B;
  for (let b = 0; b < B; b++) {
    const hide = rng.uniform() < ratio;
    keep[o + b] = hide ? 0 : samples.avail[a + b]!;
    keep[o + B + b] = hide ? 0 : samples.avail[a + B + b]!;
  }
}

export interface TrainResult {
  model: TemporalMae;
  /** Training loss per step. */
  losses: number[];
}

/**
 * Train on source region-days. Deterministic per config.seed on one backend (weights from Rng,
 * batches and masks from Rng, no tfjs randomness).
 */
export async function trainTemporalMae(samples: DaySamples, config: Partial<MaeConfig> = {}, onStep?: (step: number, loss: number) => void): Promise<TrainResult> {
  const c: MaeConfig = { ...DEFAULT_MAE_CONFIG, ...config };
  checkConfig(c);
  if (samples.bins !== c.bins) throw new Error(`temporal MAE: samples have ${samples.bins} bins, config says ${c.bins}`);
  if (samples.count === 0) throw new DataError('temporal MAE: no day samples to train on (no observed readings in the source ranges)');
  await initBackend();
  const rng = new Rng(c.seed);
  const init = initWeights(c, rng.fork('init'));
  const batchRng = rng.fork('batches');
  const shapes = weightShapes(c);
  // tidy disposes the initial-value tensors; variables survive it.
  const vars = MAE_WEIGHT_NAMES.map((name) => tf.tidy(() => tf.variable(tf.tensor(init[name], shapes[name]), true)));
  const [w1, b1, w2, b2, w3, b3, w4, b4] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable];
  const optimizer = tf.train.adam(c.learningRate);
  const B = c.bins;
  const bs = Math.min(c.batchSize, samples.count);
  const input = new Float32Array(bs * 4 * B);
  const target = new Float32Array(bs * 2 * B);
  const weight = new Float32Array(bs * 2 * B);
  const keep = new Float32Array(2 * B);
  const losses: number[] = [];
  try {
    for (let step = 0; step < c.steps; step++) {
      for (let r = 0; r < bs; r++) {
        const s = batchRng.int(samples.count);
        drawMask(samples, s, c.maskRatio, batchRng, keep, 0);
        const a = s * 2 * B;
        for (let j = 0; j < 2 * B; j++) {
          const v = samples.values[a + j]!;
          const av = samples.avail[a + j]!;
          input[r * 4 * B + j] = v * keep[j]!;
          input[r * 4 * B + 2 * B + j] = keep[j]!;
          target[r * 2 * B + j] = v;
          weight[r * 2 * B + j] = av === 0 ? 0 : keep[j] === 0 ? 1 : c.visibleWeight;
        }
      }
      const cost = optimizer.minimize(
        () =>
          tf.tidy(() => {
            const x = tf.tensor2d(input, [bs, 4 * B]);
            const y = tf.tensor2d(target, [bs, 2 * B]);
            const w = tf.tensor2d(weight, [bs, 2 * B]);
            const z = tf.tanh(tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2));
            const out = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(z, w3), b3)), w4), b4);
            const err = tf.mul(w, tf.square(tf.sub(out, y)));
            return tf.div(tf.sum(err), tf.maximum(tf.sum(w), 1)) as tf.Scalar;
          }),
        true,
      );
      const loss = (await cost!.data())[0]!;
      cost!.dispose();
      losses.push(loss);
      onStep?.(step, loss);
    }
    const weights = {} as Record<MaeWeightName, Float32Array>;
    for (let k = 0; k < MAE_WEIGHT_NAMES.length; k++) weights[MAE_WEIGHT_NAMES[k]!] = ((await vars[k]!.data()) as Float32Array).slice();
    return { model: { config: c, weights }, losses };
  } finally {
    optimizer.dispose();
    for (const v of vars) v.dispose();
  }
}

/** dense layer in float64: out[j] = act(b[j] + sum_i x[i] W[i, j]). */
function dense(x: Float64Array, W: Float32Array, b: Float32Array, act: 'relu' | 'tanh' | 'none'): Float64Array {
  const I = x.length;
  const J = b.length;
  const out = new Float64Array(J);
  for (let j = 0; j < J; j++) out[j] = b[j]!;
  for (let i = 0; i < I; i++) {
    const xi = x[i]!;
    if (xi === 0) continue;
    const row = i * J;
    for (let j = 0; j < J; j++) out[j] += xi * W[row + j]!;
  }
  if (act === 'relu') for (let j = 0; j < J; j++) out[j] = Math.max(0, out[j]!);
  else if (act === 'tanh') for (let j = 0; j < J; j++) out[j] = Math.tanh(out[j]!);
  return out;
}

function inputOf(samples: DaySamples, s: number, keep: ArrayLike<number>): Float64Array {
  const B = samples.bins;
  const x = new Float64Array(4 * B);
  const a = s * 2 * B;
  for (let j = 0; j < 2 * B; j++) {
    x[j] = samples.values[a + j]! * keep[j]!;
    x[2 * B + j] = keep[j]!;
  }
  return x;
}

/** Code of one sample with the given visibility (default: everything observed is visible). */
export function encodeSample(model: TemporalMae, samples: DaySamples, s: number, keep?: ArrayLike<number>): Float64Array {
  const B = samples.bins;
  const vis = keep ?? samples.avail.subarray(s * 2 * B, (s + 1) * 2 * B);
  const w = model.weights;
  return dense(dense(inputOf(samples, s, vis), w.w1, w.b1, 'relu'), w.w2, w.b2, 'tanh');
}

/** Reconstruction [2 * bins] of one sample seen through `keep`. */
export function reconstructSample(model: TemporalMae, samples: DaySamples, s: number, keep: ArrayLike<number>): Float64Array {
  const w = model.weights;
  const z = encodeSample(model, samples, s, keep);
  return dense(dense(z, w.w3, w.b3, 'relu'), w.w4, w.b4, 'none');
}

/**
 * Per region: the mean code over its available days in the range, or null if the region has no
 * observed reading there.
 */
export function maeRegionEmbeddings(
  model: TemporalMae,
  city: City,
  range: StepRange,
  feature: number,
  context?: { profiles?: CityProfiles; nbrs?: Int32Array[] },
): (Float32Array | null)[] {
  const samples = regionDaySamples(city, range, { bins: model.config.bins, feature }, context);
  const E = model.config.embedDim;
  const sums = Array.from({ length: city.N }, () => new Float64Array(E));
  const counts = new Int32Array(city.N);
  for (let s = 0; s < samples.count; s++) {
    const n = samples.region[s]!;
    const z = encodeSample(model, samples, s);
    for (let e = 0; e < E; e++) sums[n]![e] += z[e]!;
    counts[n]++;
  }
  return sums.map((sum, n) => (counts[n] === 0 ? null : Float32Array.from(sum, (v) => v / counts[n]!)));
}
