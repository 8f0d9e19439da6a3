/**
 * Masked forecast metrics in original units, per horizon step (PROTOCOL.md).
 *
 * - Entries with mask 0 are excluded from every metric.
 * - MAPE is a fraction (0.25 = 25%), computed only over observed entries with truth > 0
 *   (zero counts would make it infinite).
 * - `maeMean`/`rmseMean`/`mapeMean` average the per-horizon values (not the pooled errors).
 * - A horizon with no usable entry gets NaN; the means then skip NaN horizons and are NaN only if
 *   every horizon is NaN.
 */
export interface HorizonMetrics {
  mae: number[];
  rmse: number[];
  mape: number[];
  maeMean: number;
  rmseMean: number;
  mapeMean: number;
  /** Observed entries per horizon (MAE/RMSE denominators). */
  count: number[];
}

/** Streaming version: add windows of many regions, then `result()` equals maskedMetrics on their concatenation. */
export class MetricsAccumulator {
  private readonly absSum: Float64Array;
  private readonly sqSum: Float64Array;
  private readonly apeSum: Float64Array;
  private readonly n: Float64Array;
  private readonly nPos: Float64Array;

  constructor(readonly horizons: number) {
    if (!Number.isInteger(horizons) || horizons < 1) throw new Error(`metrics: horizons must be a positive integer, got ${horizons}`);
    this.absSum = new Float64Array(horizons);
    this.sqSum = new Float64Array(horizons);
    this.apeSum = new Float64Array(horizons);
    this.n = new Float64Array(horizons);
    this.nPos = new Float64Array(horizons);
  }

  /** pred/truth/mask are [W, horizons] row-major. */
  add(pred: ArrayLike<number>, truth: ArrayLike<number>, mask?: ArrayLike<number>): void {
    const H = this.horizons;
    if (pred.length !== truth.length) throw new Error(`metrics: pred has ${pred.length} values but truth has ${truth.length}`);
    if (pred.length % H !== 0) throw new Error(`metrics: ${pred.length} values are not a multiple of ${H} horizons`);
    if (mask && mask.length !== pred.length) throw new Error(`metrics: mask has ${mask.length} values, expected ${pred.length}`);
    for (let i = 0, h = 0; i < pred.length; i++, h = h + 1 === H ? 0 : h + 1) {
      if (mask && mask[i] === 0) continue;
      const t = truth[i]!;
      const e = pred[i]! - t;
      const ae = Math.abs(e);
      this.absSum[h]! += ae;
      this.sqSum[h]! += e * e;
      this.n[h]!++;
      if (t > 0) {
        this.apeSum[h]! += ae / t;
        this.nPos[h]!++;
      }
    }
  }

  result(): HorizonMetrics {
    const H = this.horizons;
    const mae: number[] = [];
    const rmse: number[] = [];
    const mape: number[] = [];
    const count: number[] = [];
    for (let h = 0; h < H; h++) {
      const n = this.n[h]!;
      const np = this.nPos[h]!;
      mae.push(n > 0 ? this.absSum[h]! / n : NaN);
      rmse.push(n > 0 ? Math.sqrt(this.sqSum[h]! / n) : NaN);
      mape.push(np > 0 ? this.apeSum[h]! / np : NaN);
      count.push(n);
    }
    return { mae, rmse, mape, maeMean: meanSkipNaN(mae), rmseMean: meanSkipNaN(rmse), mapeMean: meanSkipNaN(mape), count };
  }
}

export function maskedMetrics(
  pred: Float32Array,
  truth: Float32Array,
  mask: Uint8Array | undefined,
  horizons: number,
): HorizonMetrics {
  const acc = new MetricsAccumulator(horizons);
  acc.add(pred, truth, mask);
  return acc.result();
}

function meanSkipNaN(v: number[]): number {
  let s = 0;
  let k = 0;
  for (const x of v) {
    if (!Number.isNaN(x)) {
      s += x;
      k++;
    }
  }
  return k > 0 ? s / k : NaN;
}
