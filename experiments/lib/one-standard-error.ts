/**
 * The one-standard-error rule over regions, measured as a way to choose the zero-shot factor
 * (experiments/zero-shot-scale.ts) and not adopted: the pipeline takes the lowest pooled MAE
 * (transfer/zero-shot-scale.ts). Why it was tried: on nyc-bike-grid, K = 1, the day's MAE fell by 0.09%
 * from factor 0 to 1 and the lowest chose 1; the zero-shot row then lost 14% to the baseline on the test
 * period. A difference that small is noise the few days cannot resolve, and then the smaller correction
 * is the safer bet. Why not adopted: on pseudo-targets it gave up more in the mean (K = 3 and 7: it
 * keeps metro-shanghai's and la-loop's larger, better factors out) than it saved in the worst city.
 */
import { lowestIndex } from '../../src/transfer/zero-shot-scale.js';

/**
 * `lowest` is the grid index with the lowest pooled MAE (lowestIndex, as the pipeline chooses); `pick`
 * the first index (on a rising grid, the smallest factor) whose per-region MAE exceeds the lowest's by
 * no more than one standard error of that paired difference across regions. Regions are the units (windows of one region
 * overlap and share its days). With fewer than two regions there is no spread and `pick` is `lowest`.
 */
export function oneStandardErrorPick(pooled: readonly number[], byRegion: readonly (readonly number[])[]): { pick: number; lowest: number } {
  const lowest = lowestIndex(pooled);
  for (let j = 0; j < lowest; j++) {
    if (!Number.isFinite(pooled[j]!)) continue;
    const d = byRegion.map((row) => row[j]! - row[lowest]!).filter(Number.isFinite);
    if (d.length < 2) break;
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (d.length - 1));
    if (mean <= sd / Math.sqrt(d.length)) return { pick: j, lowest };
  }
  return { pick: lowest, lowest };
}
