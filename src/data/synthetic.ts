/**
 * Seeded synthetic multi-city generator: the embedded demo dataset and a controlled test bed in
 * which region attributes carry real signal about the series (so prompts can be evaluated).
 *
 * Per city:
 *  - regions at random points of the unit square; a symmetric k-nearest-neighbour graph with
 *    Gaussian distance weights;
 *  - a land-use mix over 4 types (residential, office, commercial, leisure) drawn from spatially
 *    smooth random fields (hotspots), so neighbours have similar land use and subgraphs are coherent;
 *    stored as embedding 'landuse' (dim 4) and category 'poi' (argmax);
 *  - each land-use type has a weekday and a weekend daily profile; a region's expected value is its
 *    mix of the profiles times a city level and a mild region size factor;
 *  - a per-region AR(1) disturbance smoothed over the graph plus a city-wide AR(1) factor, applied
 *    multiplicatively (values stay positive), then independent observation noise;
 *  - city-level differences: level, peak-time shift, weekend strength, persistence, noise.
 */
import type { City } from './city.js';
import { DataError } from './city.js';
import { Rng } from '../util/prng.js';

export interface SyntheticOptions {
  seed: number;
  /** Number of cities (default 4). */
  cities?: number;
  /** Regions per city (default 24), or one count per city. */
  nodes?: number | number[];
  /** Days of data (default 14). */
  days?: number;
  /** Sampling interval in minutes (default 30); must divide a day. */
  intervalMinutes?: number;
  /** Relative observation noise (default 0.08); each city scales it by a factor in [0.7, 1.3]. */
  noise?: number;
}

export const LANDUSE_TYPES = ['residential', 'office', 'commercial', 'leisure'] as const;

/** 2024-01-01T00:00Z, a Monday: day d is a weekend day when d mod 7 is 5 or 6. */
export const SYNTHETIC_START_MS = Date.UTC(2024, 0, 1);

const K_NEIGHBOURS = 4;
const HOTSPOTS_PER_TYPE = 2;

/** Gaussian bump on the 24-hour circle. */
function bump(hour: number, centre: number, width: number): number {
  let d = Math.abs(hour - centre) % 24;
  if (d > 12) d = 24 - d;
  return Math.exp(-(d * d) / (2 * width * width));
}

function smoothStep(x: number): number {
  return 1 / (1 + Math.exp(-2 * x));
}

/** Expected relative activity of each land-use type at an hour of a weekday or weekend day. */
export function landUseProfile(type: number, hour: number, weekend: boolean): number {
  switch (type) {
    case 0: // residential: morning departure peak, evening return; weekend a late, flat morning
      return weekend ? 0.35 + 0.45 * bump(hour, 11, 2.5) + 0.35 * bump(hour, 18, 2) : 0.25 + 1.1 * bump(hour, 8, 1.2) + 0.6 * bump(hour, 18.5, 1.5);
    case 1: // office: working-hours plateau, almost empty at weekends
      return weekend ? 0.12 + 0.15 * smoothStep(hour - 10) * smoothStep(16 - hour) : 0.15 + 1.0 * smoothStep(hour - 8.5) * smoothStep(17.5 - hour);
    case 2: // commercial: broad afternoon peak, stronger at weekends
      return weekend ? 0.2 + 1.2 * bump(hour, 14.5, 3.2) : 0.2 + 0.8 * bump(hour, 13.5, 2.8) + 0.2 * bump(hour, 18, 1.5);
    case 3: // leisure: evening peak; weekends add a midday peak
      return weekend ? 0.2 + 1.0 * bump(hour, 20.5, 2.2) + 0.6 * bump(hour, 13, 2.5) : 0.15 + 1.0 * bump(hour, 20.5, 1.8);
    default:
      throw new Error(`unknown land-use type ${type}`);
  }
}

function cityId(index: number): string {
  return index < 26 ? `synth-${String.fromCharCode(97 + index)}` : `synth-${index + 1}`;
}

export function generateSyntheticCities(opts: SyntheticOptions): City[] {
  const nCities = opts.cities ?? 4;
  const days = opts.days ?? 14;
  const interval = opts.intervalMinutes ?? 30;
  const noise = opts.noise ?? 0.08;
  if (!Number.isInteger(nCities) || nCities < 1) throw new DataError(`synthetic: cities must be a positive integer, got ${nCities}`);
  if (!Number.isInteger(days) || days < 1) throw new DataError(`synthetic: days must be a positive integer, got ${days}`);
  if (!(interval > 0) || !Number.isInteger((24 * 60) / interval)) {
    throw new DataError(`synthetic: intervalMinutes must divide a day (1440 minutes), got ${interval}`);
  }
  if (!(noise >= 0)) throw new DataError(`synthetic: noise must be >= 0, got ${noise}`);
  const nodeCounts = Array.isArray(opts.nodes) ? opts.nodes : Array.from({ length: nCities }, () => (opts.nodes as number | undefined) ?? 24);
  if (nodeCounts.length !== nCities) throw new DataError(`synthetic: nodes lists ${nodeCounts.length} counts for ${nCities} cities`);
  const root = new Rng(opts.seed);
  return nodeCounts.map((n, c) => {
    if (!Number.isInteger(n) || n < 2) throw new DataError(`synthetic: city ${cityId(c)} needs at least 2 nodes, got ${n}`);
    return generateCity(root.fork(`city-${c}`), cityId(c), n, days, interval, noise, opts.seed);
  });
}

function generateCity(rng: Rng, id: string, N: number, days: number, interval: number, noiseBase: number, seed: number): City {
  const layoutRng = rng.fork('layout');
  const landRng = rng.fork('landuse');
  const cityRng = rng.fork('city');
  const dynRng = rng.fork('dynamics');
  const L = LANDUSE_TYPES.length;

  const coords = layoutRng.uniformArray(2 * N, 0, 1);
  const dist = (i: number, j: number) => Math.hypot(coords[2 * i]! - coords[2 * j]!, coords[2 * i + 1]! - coords[2 * j + 1]!);

  // Symmetric kNN graph; Gaussian weights with sigma = mean kNN distance (scale-free across densities).
  const k = Math.min(K_NEIGHBOURS, N - 1);
  const adjacency = new Float32Array(N * N);
  const knn: Array<Array<[number, number]>> = [];
  let distSum = 0;
  for (let i = 0; i < N; i++) {
    const row: Array<[number, number]> = [];
    for (let j = 0; j < N; j++) if (j !== i) row.push([j, dist(i, j)]);
    row.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    knn.push(row.slice(0, k));
    for (const [, d] of row.slice(0, k)) distSum += d;
  }
  const sigma = distSum / (N * k);
  for (let i = 0; i < N; i++) {
    for (const [j, d] of knn[i]!) {
      const w = Math.exp(-(d * d) / (sigma * sigma));
      adjacency[i * N + j] = w;
      adjacency[j * N + i] = w;
    }
  }

  // Land use from smooth hotspot fields plus a little independent variation.
  const hot = landRng.uniformArray(L * HOTSPOTS_PER_TYPE * 2, 0, 1);
  const hotWidth = 0.22;
  const landuse = new Float32Array(N * L);
  const poi = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    let total = 0;
    const raw: number[] = [];
    for (let t = 0; t < L; t++) {
      let v = 0.08;
      for (let h = 0; h < HOTSPOTS_PER_TYPE; h++) {
        const o = (t * HOTSPOTS_PER_TYPE + h) * 2;
        const d = Math.hypot(coords[2 * i]! - hot[o]!, coords[2 * i + 1]! - hot[o + 1]!);
        v += Math.exp(-(d * d) / (2 * hotWidth * hotWidth));
      }
      v *= Math.exp(0.2 * landRng.normal());
      // Squaring sharpens the mix: regions lean towards one dominant use, as real zoning does.
      v *= v;
      raw.push(v);
      total += v;
    }
    let best = 0;
    for (let t = 0; t < L; t++) {
      landuse[i * L + t] = raw[t]! / total;
      if (raw[t]! > raw[best]!) best = t;
    }
    poi[i] = best;
  }

  // City-level character.
  const level = cityRng.range(20, 80);
  const shiftHours = cityRng.range(-1, 1);
  const weekendStrength = cityRng.range(0.7, 1.0);
  const phi = cityRng.range(0.85, 0.95);
  const regionalSd = cityRng.range(0.1, 0.16);
  const cityFactorSd = cityRng.range(0.02, 0.05);
  const noise = noiseBase * cityRng.range(0.7, 1.3);
  const size = new Float32Array(N);
  for (let i = 0; i < N; i++) size[i] = Math.exp(0.08 * cityRng.normal());

  const spd = Math.round((24 * 60) / interval);
  const T = days * spd;

  // Expected value per (weekday/weekend, step of day, node).
  const expected = new Float32Array(2 * spd * N);
  for (let we = 0; we < 2; we++) {
    for (let s = 0; s < spd; s++) {
      const hour = (s * interval) / 60 - shiftHours;
      const prof: number[] = [];
      for (let t = 0; t < L; t++) {
        const wd = landUseProfile(t, hour, false);
        prof.push(we ? (1 - weekendStrength) * wd + weekendStrength * landUseProfile(t, hour, true) : wd);
      }
      for (let i = 0; i < N; i++) {
        let v = 0;
        for (let t = 0; t < L; t++) v += landuse[i * L + t]! * prof[t]!;
        expected[(we * spd + s) * N + i] = level * size[i]! * v;
      }
    }
  }

  // Graph smoothing operator (row-normalised, with self-loop) for the latent disturbance.
  const smoothW = new Float32Array(N * N);
  for (let i = 0; i < N; i++) {
    let sum = 1;
    smoothW[i * N + i] = 1;
    for (let j = 0; j < N; j++) if (j !== i && adjacency[i * N + j]! > 0) { smoothW[i * N + j] = adjacency[i * N + j]!; sum += adjacency[i * N + j]!; }
    for (let j = 0; j < N; j++) smoothW[i * N + j] = smoothW[i * N + j]! / sum;
  }

  const series = new Float32Array(T * N);
  const timestamps = new Float64Array(T);
  const latent = new Float64Array(N);
  const tmp = new Float64Array(N);
  const smoothed = new Float64Array(N);
  const innovationSd = regionalSd * Math.sqrt(1 - phi * phi);
  const cityInnovationSd = cityFactorSd * Math.sqrt(1 - phi * phi);
  let cityFactor = 0;
  for (let i = 0; i < N; i++) latent[i] = regionalSd * dynRng.normal();
  for (let t = 0; t < T; t++) {
    const day = Math.floor(t / spd);
    const we = day % 7 >= 5 ? 1 : 0;
    timestamps[t] = SYNTHETIC_START_MS + t * interval * 60_000;
    for (let i = 0; i < N; i++) latent[i] = phi * latent[i]! + innovationSd * dynRng.normal();
    cityFactor = phi * cityFactor + cityInnovationSd * dynRng.normal();
    // Two smoothing passes: neighbours share most of their disturbance.
    smooth(smoothW, N, latent, tmp);
    smooth(smoothW, N, tmp, smoothed);
    const base = (we * spd + (t % spd)) * N;
    for (let i = 0; i < N; i++) {
      const mean = expected[base + i]! * Math.exp(smoothed[i]! + cityFactor);
      const v = mean * (1 + noise * dynRng.normal());
      series[t * N + i] = v > 0 ? v : 0;
    }
  }

  return {
    id,
    intervalMinutes: interval,
    nodeIds: Array.from({ length: N }, (_, i) => `${id}-r${i}`),
    T,
    N,
    F: 1,
    series,
    timestamps,
    adjacency,
    attributes: {
      coords,
      coordKind: 'planar',
      embeddings: { landuse: { dim: L, data: landuse } },
      categories: { poi },
    },
    units: 'count',
    featureNames: ['flow'],
    source: `synthetic generator (seed ${seed}, city ${id}, ${N} regions, ${days} days, ${interval} min)`,
  };
}

/** dst = W src for a dense row-major [N, N] operator. */
function smooth(W: Float32Array, N: number, src: Float64Array, dst: Float64Array): void {
  for (let i = 0; i < N; i++) {
    let v = 0;
    for (let j = 0; j < N; j++) {
      const w = W[i * N + j]!;
      if (w !== 0) v += w * src[j]!;
    }
    dst[i] = v;
  }
}
