/**
 * Collects every method's test-period predictions: pooled per-horizon metrics over all regions of
 * the target, and each region's own mean MAE (for per-region maps and win counts).
 */
import { MetricsAccumulator, maskedMetrics, type HorizonMetrics } from '../metrics/metrics.js';
import { type RegionWindows } from '../data/windows.js';
import { OUT_STEPS } from '../data/task.js';

export interface MethodResult {
  method: string;
  metrics: HorizonMetrics;
  perRegion: { region: number; mae: number; rmse: number }[];
}

export class MethodScores {
  private acc = new Map<string, MetricsAccumulator>();
  private regions = new Map<string, { region: number; mae: number; rmse: number }[]>();

  add(method: string, region: number, pred: Float32Array, w: RegionWindows): void {
    let a = this.acc.get(method);
    if (!a) {
      a = new MetricsAccumulator(OUT_STEPS);
      this.acc.set(method, a);
      this.regions.set(method, []);
    }
    a.add(pred, w.yRaw, w.yMask);
    const m = maskedMetrics(pred, w.yRaw, w.yMask, OUT_STEPS);
    this.regions.get(method)!.push({ region, mae: m.maeMean, rmse: m.rmseMean });
  }

  methods(): string[] {
    return [...this.acc.keys()];
  }

  result(method: string): MethodResult {
    const a = this.acc.get(method);
    if (!a) throw new Error(`no scores for method "${method}"`);
    return { method, metrics: a.result(), perRegion: this.regions.get(method)! };
  }

  all(): MethodResult[] {
    return this.methods().map((m) => this.result(m));
  }
}
