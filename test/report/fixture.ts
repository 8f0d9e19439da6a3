/**
 * A small, realistic ReportData built by hand from fixed seeds, shared by the report tests: every field the
 * pipeline fills, a region named `<b>&` to exercise escaping, and a projection made by the real pca2d.
 */
import { pca2d } from '../../src/report/project.js';
import type { ReportData } from '../../src/report/types.js';
import { Rng } from '../../src/util/prng.js';

export const METHODS = [
  { method: 'historical-average', label: 'Historical average' },
  { method: 'last-value', label: 'Last value' },
  { method: 'target-only', label: 'Target-only' },
  { method: 'source-transfer', label: 'Source transfer' },
  { method: 'bank-mean', label: 'Bank mean' },
  { method: 'nearest-prompt', label: 'Nearest prompt' },
  { method: 'gpd-zero-shot', label: 'GPD zero-shot' },
  { method: 'gpd', label: 'GPD' },
] as const;

export const HORIZONS = 6;
export const SERIES_REGIONS = ['12', '<b>&', '40'];
export const SERIES_METHODS = ['truth', 'gpd', 'historical-average'];
export const SERIES_STEPS = 48;
export const MAP_REGIONS = 30;
export const BANK_PER_CITY = 24;
export const GENERATED = 6;
export const BANK_SERIES = ['shenzhen-sztaxi40/region 3', 'shenzhen-sztaxi40/region 17', 'shared model'];
export const BANK_EPOCHS = 20;
export const DIFFUSION_STEPS = 40;

/** Summary MAE of method i: distinct, hand-checkable values (GPD best at 3.14159). */
export const summaryMae = (i: number) => (i === METHODS.length - 1 ? 3.14159 : 3.5 + 0.25 * i);

export function buildReportData(seed = 11): ReportData {
  const rng = new Rng(seed);
  const horizons = METHODS.flatMap((m, i) =>
    Array.from({ length: HORIZONS }, (_, h) => ({ method: m.method, horizon: h + 1, mae: summaryMae(i) * (0.8 + 0.08 * h), rmse: summaryMae(i) * (1.2 + 0.1 * h) })),
  );
  const summary = METHODS.map((m, i) => ({ method: m.method, label: m.label, mae: summaryMae(i), rmse: summaryMae(i) * 1.45, maeStd: 0.051 + 0.01 * i, rmseStd: 0.07 + 0.01 * i }));

  const series = SERIES_REGIONS.flatMap((region, r) => {
    const truth = Array.from({ length: SERIES_STEPS }, (_, t) => 60 - 12 * Math.exp(-(((t - 24 - r * 3) / 6) ** 2)) + rng.normal());
    return SERIES_METHODS.flatMap((method, k) =>
      truth.map((v, step) => ({ region, method, step, value: k === 0 ? v : v + (k === 1 ? 1.5 : 3) * rng.normal() })),
    );
  });

  const regions = Array.from({ length: MAP_REGIONS }, (_, i) => ({
    region: i === 1 ? '<b>&' : String(i * 4),
    x: -118.45 + 0.3 * rng.uniform(),
    y: 34.0 + 0.2 * rng.uniform(),
    mae: 2 + 3 * rng.uniform(),
    coordKind: 'latlon',
  }));
  const edges = Array.from({ length: MAP_REGIONS - 1 }, (_, i) => ({ a: regions[i]!.region, b: regions[i + 1]!.region }));

  // Bank: two cities as two clouds in a 300-d parameter space; generated vectors near the second city.
  const P = 300;
  const centre = (label: string) => rng.fork(label).normalArray(P, 0, 1);
  const [ca, cb] = [centre('nyc'), centre('sz')];
  const near = (c: Float32Array, s: number) => Float32Array.from(c, (v) => v + s * rng.normal());
  const bank = [...Array.from({ length: BANK_PER_CITY }, () => near(ca, 0.3)), ...Array.from({ length: BANK_PER_CITY }, () => near(cb, 0.3))];
  const generated = Array.from({ length: GENERATED }, () => near(cb, 0.4));
  const pca = pca2d(bank, generated);
  const projection = [
    ...pca.base.map(([x, y], i) => ({ x, y, kind: 'bank' as const, city: i < BANK_PER_CITY ? 'nyc-bike-grid' : 'shenzhen-sztaxi40' })),
    ...pca.extra.map(([x, y]) => ({ x, y, kind: 'generated' as const, city: 'la-loop' })),
  ];

  const bankCurves = BANK_SERIES.flatMap((s, k) =>
    (['train', 'val'] as const).flatMap((split) =>
      Array.from({ length: BANK_EPOCHS }, (_, e) => ({ series: s, epoch: e + 1, split, loss: (0.9 + 0.2 * k) * Math.exp(-e / 6) + (split === 'val' ? 0.12 : 0.08) })),
    ),
  );
  const diffusionCurve = Array.from({ length: DIFFUSION_STEPS }, (_, i) => ({
    step: (i + 1) * 50,
    loss: 1.2 * Math.exp(-i / 10) + 0.05,
    ...(i % 5 === 4 ? { valLoss: 1.3 * Math.exp(-i / 10) + 0.07 } : {}),
  }));

  return {
    title: 'GPD on la-loop from shenzhen-sztaxi40 + nyc-bike-grid (K = 3)',
    createdAt: '2026-11-24T04:00:00.000Z',
    command: 'gpd run --config configs/la-loop.yaml --seeds 1,2,3',
    wallSeconds: 1234.5,
    setup: { model: 'gwn', target: 'la-loop', sources: ['shenzhen-sztaxi40', 'nyc-bike-grid'], kDays: 3, conditioning: 'spatial-kg', sampler: 'ddim', samplerSteps: 50, seeds: [1, 2, 3], backend: 'wasm' },
    config: { model: { kind: 'gwn', hidden: 32 }, diffusion: { steps: 500, sampler: 'ddim' }, note: 'a <tag> & "quotes"' },
    bankCurves,
    diffusionCurve,
    horizons,
    summary,
    series,
    regions,
    edges,
    projection,
    notes: ['Historical average is within one standard deviation of GPD at horizon 1.', '<script>alert(1)</script>'],
  };
}

/** Data marks (points, circles, lines, rules) each chart must draw for this fixture. */
export const EXPECTED_MARKS: Record<string, number> = {
  // one line per method and metric + one point per method, metric and horizon
  horizons: METHODS.length * 2 + METHODS.length * 2 * HORIZONS,
  series: SERIES_REGIONS.length * SERIES_METHODS.length,
  // one circle per region + one rule per edge of the chain
  map: MAP_REGIONS + (MAP_REGIONS - 1),
  projection: 2 * BANK_PER_CITY + GENERATED,
  // lines for each curve and split, with a point per epoch
  'bank-loss': BANK_SERIES.length * 2 * (1 + BANK_EPOCHS),
  // train + val lines, a train point per logged step and a val point every fifth step
  'diffusion-loss': 2 + DIFFUSION_STEPS + DIFFUSION_STEPS / 5,
};
