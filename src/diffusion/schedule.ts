/**
 * Discrete-time Gaussian noise schedules (DDPM) and the per-step coefficients every objective
 * and sampler needs. Everything is computed once in float64; callers gather per-step values and
 * only then convert to float32 tensors, so T = 1000 cumulative products do not lose precision.
 *
 * Step indices run 0..T-1 (step t adds noise beta_t); alphasCumprod[t] = prod_{s<=t} (1 - beta_s).
 */
import type { Objective } from './types.js';

export const SCHEDULES = ['linear', 'cosine'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];

export interface NoiseSchedule {
  kind: ScheduleKind;
  T: number;
  betas: Float64Array;
  alphas: Float64Array;
  alphasCumprod: Float64Array;
  /** alphasCumprod shifted right by one, with 1 at t = 0. */
  alphasCumprodPrev: Float64Array;
  sqrtAlphasCumprod: Float64Array;
  sqrtOneMinusAlphasCumprod: Float64Array;
  sqrtRecipAlphasCumprod: Float64Array;
  sqrtRecipm1AlphasCumprod: Float64Array;
  /** Variance of q(x_{t-1} | x_t, x_0); 0 at t = 0. */
  posteriorVariance: Float64Array;
  /** log of posteriorVariance floored at 1e-20 (finite at t = 0). */
  posteriorLogVarianceClipped: Float64Array;
  /** Mean of q(x_{t-1} | x_t, x_0) = coef1 * x0 + coef2 * x_t. */
  posteriorMeanCoef1: Float64Array;
  posteriorMeanCoef2: Float64Array;
  /** Signal-to-noise ratio alphasCumprod / (1 - alphasCumprod). */
  snr: Float64Array;
}

/** The GPD release trains with T = 500 steps (its CLI default) on this linear schedule. */
export const REFERENCE_T = 500;
export const REFERENCE_BETA_START = 1e-5;
export const REFERENCE_BETA_END = 0.02;

function checkT(T: number): void {
  if (!Number.isInteger(T) || T < 1) throw new Error(`noise schedule: T must be a positive integer, got ${T}`);
}

/**
 * Betas evenly spaced from betaStart to betaEnd inclusive (the GPD release: 1e-5 .. 0.02).
 * Note: the end point does not scale with T, so short schedules keep much of the signal at the
 * last step (T = 500 leaves sqrt(alphasCumprod) ~ 0.08; T = 100 ~ 0.6); pass a larger betaEnd
 * for short schedules.
 */
export function linearSchedule(T: number, betaStart = REFERENCE_BETA_START, betaEnd = REFERENCE_BETA_END): NoiseSchedule {
  checkT(T);
  if (!(betaStart > 0 && betaEnd < 1 && betaStart <= betaEnd)) {
    throw new Error(`linearSchedule: need 0 < betaStart <= betaEnd < 1, got ${betaStart} .. ${betaEnd}`);
  }
  const betas = new Float64Array(T);
  const step = T > 1 ? (betaEnd - betaStart) / (T - 1) : 0;
  for (let i = 0; i < T; i++) betas[i] = betaStart + i * step;
  betas[T - 1] = T > 1 ? betaEnd : betaStart;
  return scheduleFromBetas('linear', betas);
}

/**
 * The cosine schedule of Nichol & Dhariwal: alphasCumprod follows cos^2 of the normalised time
 * (offset s), betas derived from its ratios and clipped to at most 0.999 (so the last step is
 * almost pure noise but stays finite).
 */
export function cosineSchedule(T: number, s = 0.008): NoiseSchedule {
  checkT(T);
  if (!(s >= 0)) throw new Error(`cosineSchedule: s must be >= 0, got ${s}`);
  const f = (i: number) => Math.cos(((i / T + s) / (1 + s)) * Math.PI * 0.5) ** 2;
  const f0 = f(0);
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    const b = 1 - f(i + 1) / f0 / (f(i) / f0);
    betas[i] = Math.min(Math.max(b, 0), 0.999);
  }
  return scheduleFromBetas('cosine', betas);
}

/** All derived coefficients of a schedule from its betas (float64). */
export function scheduleFromBetas(kind: ScheduleKind, betas: Float64Array): NoiseSchedule {
  const T = betas.length;
  checkT(T);
  const mk = () => new Float64Array(T);
  const alphas = mk(), alphasCumprod = mk(), alphasCumprodPrev = mk();
  const sqrtAlphasCumprod = mk(), sqrtOneMinusAlphasCumprod = mk(), sqrtRecipAlphasCumprod = mk();
  const sqrtRecipm1AlphasCumprod = mk(), posteriorVariance = mk(), posteriorLogVarianceClipped = mk();
  const posteriorMeanCoef1 = mk(), posteriorMeanCoef2 = mk(), snr = mk();
  let cum = 1;
  for (let t = 0; t < T; t++) {
    const beta = betas[t]!;
    if (!(beta > 0 && beta < 1)) throw new Error(`noise schedule: beta[${t}] = ${beta} is outside (0, 1)`);
    const alpha = 1 - beta;
    const prev = cum;
    cum *= alpha;
    alphas[t] = alpha;
    alphasCumprod[t] = cum;
    alphasCumprodPrev[t] = prev;
    sqrtAlphasCumprod[t] = Math.sqrt(cum);
    sqrtOneMinusAlphasCumprod[t] = Math.sqrt(1 - cum);
    sqrtRecipAlphasCumprod[t] = Math.sqrt(1 / cum);
    sqrtRecipm1AlphasCumprod[t] = Math.sqrt(1 / cum - 1);
    const pv = (beta * (1 - prev)) / (1 - cum);
    posteriorVariance[t] = pv;
    posteriorLogVarianceClipped[t] = Math.log(Math.max(pv, 1e-20));
    posteriorMeanCoef1[t] = (beta * Math.sqrt(prev)) / (1 - cum);
    posteriorMeanCoef2[t] = ((1 - prev) * Math.sqrt(alpha)) / (1 - cum);
    snr[t] = cum / (1 - cum);
  }
  return {
    kind, T, betas: Float64Array.from(betas), alphas, alphasCumprod, alphasCumprodPrev, sqrtAlphasCumprod,
    sqrtOneMinusAlphasCumprod, sqrtRecipAlphasCumprod, sqrtRecipm1AlphasCumprod, posteriorVariance,
    posteriorLogVarianceClipped, posteriorMeanCoef1, posteriorMeanCoef2, snr,
  };
}

/**
 * Per-step weights of the squared error, as in the GPD release (min-SNR off): noise 1, x0 snr,
 * v snr/(snr+1). With these weights all three objectives measure the same quantity, snr * |x0 -
 * x0_hat|^2, so switching objective changes only the parameterisation. `minSnrGamma` (optional)
 * caps the effective snr at gamma (Hang et al. 2023), which down-weights the easy low-noise steps.
 */
export function lossWeights(schedule: NoiseSchedule, objective: Objective, minSnrGamma?: number): Float64Array {
  if (minSnrGamma !== undefined && !(minSnrGamma > 0)) throw new Error(`lossWeights: minSnrGamma must be > 0, got ${minSnrGamma}`);
  const w = new Float64Array(schedule.T);
  for (let t = 0; t < schedule.T; t++) {
    const snr = schedule.snr[t]!;
    const eff = minSnrGamma === undefined ? snr : Math.min(snr, minSnrGamma);
    if (objective === 'noise') w[t] = eff / snr;
    else if (objective === 'x0') w[t] = eff;
    else if (objective === 'v') w[t] = eff / (snr + 1);
    else throw new Error(`lossWeights: unknown objective "${String(objective)}"`);
  }
  return w;
}

/**
 * DDIM's visited steps for S sampling steps out of T: T-1 down to 0, then -1 meaning "return
 * the predicted x0". Spacing follows the GPD release (evenly spaced on [-1, T-1], truncated), so
 * S = T visits every step.
 */
export function ddimTimesteps(T: number, S: number): Int32Array {
  checkT(T);
  if (!Number.isInteger(S) || S < 1 || S > T) throw new Error(`DDIM: steps must be an integer in 1..${T}, got ${S}`);
  const out = new Int32Array(S + 1);
  for (let k = 0; k <= S; k++) out[S - k] = Math.trunc(-1 + (k * T) / S);
  return out;
}

/**
 * Coefficients of one DDIM update x_next = sqrtAlphaNext * x0 + dirCoef * eps + sigma * z from
 * step t to tNext (< t; -1 is the clean end, alphasCumprod = 1). eta = 1 gives sigma^2 equal to
 * DDPM's posterior variance when tNext = t - 1; eta = 0 is deterministic.
 */
export function ddimStepCoefficients(schedule: NoiseSchedule, t: number, tNext: number, eta: number): { sqrtAlphaNext: number; dirCoef: number; sigma: number } {
  const a = schedule.alphasCumprod[t]!;
  const aNext = tNext < 0 ? 1 : schedule.alphasCumprod[tNext]!;
  const sigma = eta * Math.sqrt(Math.max(0, ((1 - aNext) / (1 - a)) * (1 - a / aNext)));
  const dirCoef = Math.sqrt(Math.max(0, 1 - aNext - sigma * sigma));
  return { sqrtAlphaNext: Math.sqrt(aNext), dirCoef, sigma };
}
