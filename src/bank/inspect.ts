/**
 * `inspectBank`: what a bank holds and whether it is any good, without retraining anything: regions
 * per city, the validation MAE distribution, parameter statistics, and the share of regions whose
 * model beats the historical average on the same validation windows (recorded at build time).
 */
import { createHash } from 'node:crypto';
import { loadBank } from './store.js';
import { createForecaster } from '../models/registry.js';

export interface Distribution {
  min: number;
  median: number;
  mean: number;
  max: number;
}

export interface BankInspectSummary {
  dir: string;
  model: string;
  init: string;
  layoutHash: string;
  paramCount: number;
  seed: number;
  /** Value encoding the models were trained on (data/baseline.ts). */
  baseline: string;
  /** Days of the blocks the encoding was fitted on (null: the whole training part). */
  encodingFitDays: number | null;
  /** Training windows drawn per region and epoch (null: all). */
  maxWindowsPerEpoch: number | null;
  complete: boolean;
  regions: number;
  perCity: { city: string; regions: number; planned: number; valMae: Distribution; haValMae: Distribution; beatsHa: number }[];
  valMae: Distribution;
  /** Regions with a NaN validation MAE (no observed validation target). */
  unvalidated: number;
  valRmse: Distribution;
  haValMae: Distribution;
  /** Share of regions with val MAE < historical-average val MAE. */
  beatsHistoricalAverage: number;
  params: { mean: number; std: number; min: number; max: number };
  /** L2 norm of each region's whole vector. */
  vectorNorms: Distribution;
  /** Per named tensor of the layout: mean/std of values over all regions and the mean L2 norm. */
  perTensor: { name: string; size: number; mean: number; std: number; meanNorm: number }[];
  shared: { valMae: number; valRmse: number; epochsRun: number } | null;
  trainMsPerRegion: Distribution;
  /** sha256 over the vectors' bytes in region order (bank order): equal digests, bit-identical banks. */
  digest: string;
}

/** sha256 (hex) over the vectors' little-endian float32 bytes, concatenated in the order given. */
export function vectorsDigest(vectors: Float32Array[]): string {
  const h = createHash('sha256');
  for (const v of vectors) h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return h.digest('hex');
}

/** Over the non-NaN values only: a region without an observed validation target has NaN val metrics. */
export function distribution(values: number[]): Distribution {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return { min: NaN, median: NaN, mean: NaN, max: NaN };
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { min: v[0]!, median, mean: v.reduce((a, b) => a + b, 0) / v.length, max: v[v.length - 1]! };
}

/** Share of regions whose validation MAE is below the historical average's; a NaN val MAE (no observed validation target) does not count as below. */
function share(entries: { val: { mae: number }; haVal: { mae: number } }[]): number {
  if (entries.length === 0) return NaN;
  return entries.filter((e) => e.val.mae < e.haVal.mae).length / entries.length;
}

export function inspectBank(dir: string): BankInspectSummary {
  const bank = loadBank(dir);
  const { entries, vectors, settings } = bank;
  let sum = 0;
  let sq = 0;
  let min = Infinity;
  let max = -Infinity;
  const norms: number[] = [];
  for (const v of vectors) {
    let n2 = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      sum += x;
      sq += x * x;
      n2 += x * x;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    norms.push(Math.sqrt(n2));
  }
  const count = vectors.length * settings.paramCount;
  const mean = count > 0 ? sum / count : NaN;

  const layout = createForecaster(settings.model).layout;
  const perTensor = layout.entries.map((e) => {
    let s = 0;
    let s2 = 0;
    let normSum = 0;
    for (const v of vectors) {
      let n2 = 0;
      for (let i = e.offset; i < e.offset + e.size; i++) {
        const x = v[i]!;
        s += x;
        n2 += x * x;
      }
      s2 += n2;
      normSum += Math.sqrt(n2);
    }
    const k = vectors.length * e.size;
    const m = k > 0 ? s / k : NaN;
    return { name: e.name, size: e.size, mean: m, std: k > 0 ? Math.sqrt(Math.max(0, s2 / k - m * m)) : NaN, meanNorm: vectors.length > 0 ? normSum / vectors.length : NaN };
  });

  return {
    dir,
    model: settings.model,
    init: settings.init,
    layoutHash: settings.layoutHash,
    paramCount: settings.paramCount,
    seed: settings.seed,
    baseline: settings.baseline,
    encodingFitDays: settings.encodingFitDays,
    maxWindowsPerEpoch: settings.maxWindowsPerEpoch,
    complete: bank.complete,
    regions: entries.length,
    perCity: bank.index.cities.map((c) => {
      const es = entries.filter((e) => e.city === c.id);
      return { city: c.id, regions: es.length, planned: c.regions, valMae: distribution(es.map((e) => e.val.mae)), haValMae: distribution(es.map((e) => e.haVal.mae)), beatsHa: share(es) };
    }),
    valMae: distribution(entries.map((e) => e.val.mae)),
    valRmse: distribution(entries.map((e) => e.val.rmse)),
    haValMae: distribution(entries.map((e) => e.haVal.mae)),
    beatsHistoricalAverage: share(entries),
    unvalidated: entries.filter((e) => Number.isNaN(e.val.mae)).length,
    params: { mean, std: count > 0 ? Math.sqrt(Math.max(0, sq / count - mean * mean)) : NaN, min, max },
    vectorNorms: distribution(norms),
    perTensor,
    shared: bank.index.shared ? { valMae: bank.index.shared.val.mae, valRmse: bank.index.shared.val.rmse, epochsRun: bank.index.shared.epochsRun } : null,
    trainMsPerRegion: distribution(entries.map((e) => e.timings.trainMs)),
    digest: vectorsDigest(vectors),
  };
}

const f = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const dist = (d: Distribution, digits = 4) => `min ${f(d.min, digits)}  median ${f(d.median, digits)}  mean ${f(d.mean, digits)}  max ${f(d.max, digits)}`;

/** Human-readable report; its last two lines are exactly `digest: <sha256>` and `beats-historical-average: <share>`. */
export function formatBankInspect(s: BankInspectSummary): string {
  const lines: string[] = [];
  lines.push(`bank ${s.dir}`);
  lines.push(`model ${s.model}  init ${s.init}  layout ${s.layoutHash}  params ${s.paramCount}  seed ${s.seed}  baseline ${s.baseline}${s.encodingFitDays === null ? '' : ` fitted on ${s.encodingFitDays}-day blocks`}${s.maxWindowsPerEpoch === null ? '' : `  at most ${s.maxWindowsPerEpoch} windows per region and epoch`}`);
  lines.push(`regions ${s.regions}${s.complete ? '' : ' (incomplete: rerun the build to finish)'}`);
  for (const c of s.perCity) {
    lines.push(`  ${c.city}: ${c.regions}/${c.planned} regions, val MAE median ${f(c.valMae.median)} (HA ${f(c.haValMae.median)}), beats HA ${f(c.beatsHa, 2)}`);
  }
  if (s.unvalidated > 0) lines.push(`${s.unvalidated} region(s) have no observed validation target: no val MAE, trained to the last epoch, counted as not beating HA`);
  lines.push(`val MAE    ${dist(s.valMae)}`);
  lines.push(`val RMSE   ${dist(s.valRmse)}`);
  lines.push(`HA val MAE ${dist(s.haValMae)}`);
  if (s.shared) lines.push(`shared model: val MAE ${f(s.shared.valMae)}  RMSE ${f(s.shared.valRmse)}  (${s.shared.epochsRun} epochs)`);
  lines.push(`parameters: mean ${f(s.params.mean, 5)}  std ${f(s.params.std, 5)}  min ${f(s.params.min)}  max ${f(s.params.max)}`);
  lines.push(`vector L2 norms: ${dist(s.vectorNorms, 3)}`);
  lines.push('per tensor (mean / std / mean L2 norm):');
  for (const t of s.perTensor) lines.push(`  ${t.name} [${t.size}]: ${f(t.mean, 5)} / ${f(t.std, 5)} / ${f(t.meanNorm, 3)}`);
  lines.push(`train ms per region: ${dist(s.trainMsPerRegion, 0)}`);
  lines.push(`digest: ${s.digest}`);
  lines.push(`beats-historical-average: ${f(s.beatsHistoricalAverage, 2)}`);
  return lines.join('\n');
}
