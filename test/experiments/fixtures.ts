/** Synthetic run records for the experiments tests: every method scored, numbers chosen so means, stds and wins are known. */
import { METHODS, type Method } from '../../src/index.js';
import type { RunRecord } from '../../experiments/lib/records.js';

/** Method i scores `base + i / 10` MAE (RMSE twice that); `override` sets single methods' MAE. */
export function methodsAt(base: number, override: Partial<Record<Method, number>> = {}): RunRecord['methods'] {
  return Object.fromEntries(
    METHODS.map((m, i) => {
      const mae = override[m] ?? base + i / 10;
      return [m, { mae, rmse: 2 * mae, mape: NaN, maeByHorizon: [mae - 0.2, mae - 0.1, mae, mae, mae + 0.1, mae + 0.2], rmseByHorizon: Array(6).fill(2 * mae) }];
    }),
  );
}

export function record(target: string, seed: number, fields: Partial<RunRecord> = {}, override: Partial<Record<Method, number>> = {}): RunRecord {
  return { target, sourceSet: 'family', sources: ['src-city'], seed, k: 3, variant: 'main', methods: methodsAt(seed, override), regions: 4, wallSeconds: 1, ...fields };
}
