/**
 * The report's charts: Vega-Lite specs built from `ReportData`, rendered to static SVG strings in Node
 * (Vega's headless 'none' renderer), so the HTML page needs no JavaScript and no network.
 * Vega escapes every text it writes into the SVG (axis labels, legends, facet headers), so region and
 * method names from the data are safe to embed.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type {
  BankCurvePoint,
  DiffusionCurvePoint,
  HorizonPoint,
  ProjectionPoint,
  RegionEdge,
  RegionError,
  ReportData,
  SeriesPoint,
} from './types.js';

export type ChartName = 'horizons' | 'series' | 'map' | 'projection' | 'bank-loss' | 'diffusion-loss';

/** Chart order on the page. */
export const CHART_NAMES: readonly ChartName[] = ['horizons', 'series', 'map', 'projection', 'bank-loss', 'diffusion-loss'];

/** A rendered chart, or the reason it was left out (no usable data). */
export type RenderedChart = { name: ChartName; svg: string } | { name: ChartName; svg: null; reason: string };

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';

/** Shared look: light grid, no frame, readable label sizes. */
const CONFIG = {
  font: FONT,
  background: 'white',
  padding: 8,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: '#e8e8e8', domainColor: '#888', tickColor: '#888' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, labelLimit: 360 },
  header: { labelFontSize: 12, labelFontWeight: 600, titleFontSize: 12 },
  title: { fontSize: 13, fontWeight: 600, anchor: 'start' },
} as const;

/** Tableau-20 reordered so the first ten are the strong Tableau-10 hues. */
const PALETTE = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#a0cbe8', '#ffbe7d', '#ff9d9a', '#86bcb6', '#8cd17d', '#f1ce63', '#d4a6c8', '#fabfd2', '#d7b5a6', '#79706e',
];

const TRUTH = 'truth';

export interface MethodColours {
  /** Display labels in legend order. */
  labels: string[];
  /** Colour of each label, same order. */
  colours: string[];
  labelOf: (method: string) => string;
  /** Labels of GPD's own methods, drawn thicker. */
  highlighted: Set<string>;
}
const TRUTH_LABEL = 'observed';

/**
 * One colour per method across every chart (same method, same colour), keyed by its display label.
 * Order: the summary's order, then methods seen only in the horizon or series data.
 */
export function methodColours(data: Pick<ReportData, 'summary' | 'horizons' | 'series'>): MethodColours {
  const labelByMethod = new Map<string, string>();
  for (const row of data.summary) labelByMethod.set(row.method, row.label || row.method);
  const labelOf = (method: string) => (method === TRUTH ? TRUTH_LABEL : (labelByMethod.get(method) ?? method));
  const labels: string[] = [];
  const add = (method: string) => {
    if (method === TRUTH) return;
    const label = labelOf(method);
    if (!labels.includes(label)) labels.push(label);
  };
  data.summary.forEach((r) => add(r.method));
  data.horizons.forEach((r) => add(r.method));
  data.series.forEach((r) => add(r.method));
  // GPD's own methods get the two warm, strong hues; baselines share the cooler rest of the palette.
  const gpdLabels = new Set<string>();
  for (const m of [...data.summary.map((r) => r.method), ...data.horizons.map((r) => r.method)]) if (isGpdMethod(m)) gpdLabels.add(labelOf(m));
  // The fine-tuned GPD (method id exactly "gpd") gets the strongest red whatever its position.
  const gpdOrder = [...gpdLabels].sort((a, b) => Number(b === labelOf('gpd')) - Number(a === labelOf('gpd')));
  let o = 0;
  const colours = labels.map((l) => (gpdLabels.has(l) ? GPD_PALETTE[gpdOrder.indexOf(l) % GPD_PALETTE.length]! : BASELINE_PALETTE[o++ % BASELINE_PALETTE.length]!));
  return { labels, colours, labelOf, highlighted: gpdLabels };
}

/** The project's own method ids are "gpd" or start with "gpd" and a separator ("gpd_zero_shot", "gpd-zero-shot"). */
export function isGpdMethod(method: string): boolean {
  return /^gpd(?:$|[^a-z0-9])/i.test(method);
}

const GPD_PALETTE = ['#d62728', '#ff7f0e', '#8c1a1a', '#e8a33d'];
const BASELINE_PALETTE = ['#4e79a7', '#76b7b2', '#59a14f', '#b07aa1', '#9c755f', '#edc948', '#17becf', '#7f7f7f', '#a0cbe8', '#8cd17d', '#d4a6c8', '#bab0ac'];

const finite = (v: number) => typeof v === 'number' && Number.isFinite(v);

/**
 * Log-scale loss axis with a little headroom and ticks at 1, 2 and 5 per decade (1..9 when the losses
 * span less than a decade): Vega's own log ticks either crowd or vanish on short ranges.
 */
function logLossAxis(losses: number[]) {
  const lo = Math.min(...losses) / 1.15;
  const hi = Math.max(...losses) * 1.15;
  const ticks = (mantissas: number[]) => {
    const out: number[] = [];
    for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** k).toPrecision(6));
        if (v >= lo && v <= hi) out.push(v);
      }
    }
    return out;
  };
  let values = ticks([1, 2, 5]);
  if (values.length < 3) values = ticks([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return {
    field: 'loss',
    type: 'quantitative' as const,
    title: 'loss (log scale)',
    scale: { type: 'log' as const, domain: [lo, hi], nice: false },
    axis: { values, format: '~g' },
  };
}

export function bankLossSpec(points: BankCurvePoint[]): TopLevelSpec | null {
  // Log scale: only strictly positive losses can be drawn.
  const values = points.filter((p) => finite(p.epoch) && finite(p.loss) && p.loss > 0).map((p) => ({ curve: p.series, split: p.split, epoch: p.epoch, loss: p.loss }));
  if (values.length === 0) return null;
  const curves = [...new Set(values.map((v) => v.curve))];
  return {
    config: CONFIG,
    width: 560,
    height: 260,
    data: { values },
    mark: { type: 'line', point: values.length <= 200 ? { size: 18 } : false, strokeWidth: 1.8 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
      y: logLossAxis(values.map((v) => v.loss)),
      color: { field: 'curve', type: 'nominal', title: 'model', sort: curves, scale: { domain: curves, range: PALETTE }, legend: { symbolType: 'stroke', symbolStrokeWidth: 3 } },
      strokeDash: {
        field: 'split',
        type: 'nominal',
        title: 'split',
        scale: { domain: ['train', 'val'], range: [[1, 0], [5, 3]] },
        // Vega-Lite leaves this legend's symbols without a stroke colour: set it so the dash pattern shows.
        legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 400, encode: { symbols: { update: { stroke: { value: '#333' } } } } },
      },
      detail: { field: 'split', type: 'nominal' },
    },
    // The legend's `encode` block is valid Vega-Lite but missing from its TypeScript types.
  } as TopLevelSpec;
}

export function diffusionLossSpec(points: DiffusionCurvePoint[]): TopLevelSpec | null {
  const values: { step: number; curve: string; loss: number }[] = [];
  for (const p of points) {
    if (!finite(p.step)) continue;
    if (finite(p.loss) && p.loss > 0) values.push({ step: p.step, curve: 'train', loss: p.loss });
    if (p.valLoss !== undefined && finite(p.valLoss) && p.valLoss > 0) values.push({ step: p.step, curve: 'val', loss: p.valLoss });
  }
  if (values.length === 0) return null;
  return {
    config: CONFIG,
    width: 560,
    height: 240,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.8, point: values.length <= 120 ? { size: 18 } : false },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'training step' },
      y: logLossAxis(values.map((v) => v.loss)),
      color: { field: 'curve', type: 'nominal', title: 'split', scale: { domain: ['train', 'val'], range: ['#4e79a7', '#e15759'] }, legend: { symbolType: 'stroke', symbolStrokeWidth: 3 } },
    },
  };
}

export function horizonSpec(horizons: HorizonPoint[], colours: MethodColours): TopLevelSpec | null {
  const values = horizons.flatMap((h) => {
    const label = colours.labelOf(h.method);
    const gpd = colours.highlighted.has(label) ? 'gpd' : 'baseline';
    const rows: { method: string; horizon: number; metric: string; value: number; kind: string }[] = [];
    if (finite(h.horizon) && finite(h.mae)) rows.push({ method: label, horizon: h.horizon, metric: 'MAE', value: h.mae, kind: gpd });
    if (finite(h.horizon) && finite(h.rmse)) rows.push({ method: label, horizon: h.horizon, metric: 'RMSE', value: h.rmse, kind: gpd });
    return rows;
  });
  if (values.length === 0) return null;
  return {
    config: CONFIG,
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', title: null, sort: ['MAE', 'RMSE'] } },
    spec: {
      width: 300,
      height: 240,
      mark: { type: 'line', point: { size: 36, filled: true } },
      encoding: {
        x: { field: 'horizon', type: 'quantitative', title: 'horizon (steps ahead)', axis: { tickMinStep: 1, format: 'd' } },
        y: { field: 'value', type: 'quantitative', title: 'error (original units)', scale: { zero: false } },
        color: { field: 'method', type: 'nominal', title: 'method', scale: { domain: colours.labels, range: colours.colours }, sort: colours.labels, legend: { symbolType: 'stroke', symbolStrokeWidth: 3 } },
        strokeWidth: { field: 'kind', type: 'ordinal', sort: ['baseline', 'gpd'], scale: { domain: ['baseline', 'gpd'], range: [1.6, 3.2] }, legend: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export function seriesSpec(series: SeriesPoint[], colours: MethodColours): TopLevelSpec | null {
  // Emphasis: baselines faint and underneath, GPD's methods above them, the observed series on top.
  const rank = (method: string) => (method === TRUTH ? 2 : isGpdMethod(method) ? 1 : 0);
  const values = series
    .filter((p) => finite(p.step) && finite(p.value))
    .map((p, i) => ({ region: p.region, method: colours.labelOf(p.method), step: p.step, value: p.value, layer: rank(p.method), i }))
    .sort((a, b) => a.layer - b.layer || a.i - b.i)
    .map(({ i: _i, ...v }) => v);
  if (values.length === 0) return null;
  const present = new Set(values.map((v) => v.method));
  const domain = [TRUTH_LABEL, ...colours.labels].filter((l) => present.has(l));
  const range = domain.map((l) => (l === TRUTH_LABEL ? '#222222' : colours.colours[colours.labels.indexOf(l)]!));
  const regions = [...new Set(values.map((v) => v.region))];
  return {
    config: CONFIG,
    data: { values },
    facet: { field: 'region', type: 'nominal', title: null, sort: regions },
    columns: regions.length > 1 ? 2 : 1,
    spec: {
      width: regions.length > 1 ? 330 : 680,
      height: 170,
      mark: { type: 'line', interpolate: 'linear' },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'test step' },
        y: { field: 'value', type: 'quantitative', title: 'value', scale: { zero: false } },
        color: { field: 'method', type: 'nominal', title: 'series', scale: { domain, range }, sort: domain, legend: { symbolType: 'stroke', symbolStrokeWidth: 3 } },
        strokeWidth: { field: 'layer', type: 'ordinal', scale: { domain: [0, 1, 2], range: [1.1, 1.6, 2] }, legend: null },
        opacity: { field: 'layer', type: 'ordinal', scale: { domain: [0, 1, 2], range: [0.45, 0.95, 1] }, legend: null },
        // Draw order follows the data order within each facet, which is sorted by layer above.
        order: { field: 'layer', type: 'ordinal' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export function regionMapSpec(regions: RegionError[], edges: RegionEdge[] = []): TopLevelSpec | null {
  const points = regions.filter((r) => finite(r.x) && finite(r.y) && finite(r.mae)).map((r) => ({ region: r.region, x: r.x, y: r.y, mae: r.mae }));
  if (points.length === 0) return null;
  const kind = regions[0]?.coordKind ?? 'planar';
  const latlon = kind === 'latlon';
  const byName = new Map(points.map((p) => [p.region, p]));
  const rules = edges
    .map((e) => ({ a: byName.get(e.a), b: byName.get(e.b) }))
    .filter((e): e is { a: (typeof points)[number]; b: (typeof points)[number] } => !!e.a && !!e.b && e.a !== e.b)
    .map(({ a, b }) => ({ x: a.x, y: a.y, x2: b.x, y2: b.y }));

  // Keep the map's aspect ratio true to the coordinates; a degree of longitude shrinks by cos(latitude).
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const midLat = (minY + maxY) / 2;
  const xSpan = Math.max(maxX - minX, 1e-9) * (latlon ? Math.cos((midLat * Math.PI) / 180) : 1);
  const ySpan = Math.max(maxY - minY, 1e-9);
  const width = 560;
  const height = Math.round(Math.min(560, Math.max(220, (width * ySpan) / xSpan)));
  const padX = (maxX - minX || 1) * 0.04;
  const padY = (maxY - minY || 1) * 0.04;
  const xScale = { domain: [minX - padX, maxX + padX], zero: false, nice: false };
  const yScale = { domain: [minY - padY, maxY + padY], zero: false, nice: false };
  const xTitle = latlon ? 'longitude' : 'x';
  const yTitle = latlon ? 'latitude' : 'y';
  // A computed layout has no units: its axes would only suggest a geography that is not there.
  const axis = kind === 'layout' ? { axis: null } : {};
  const size = Math.max(18, Math.min(140, 6000 / points.length));
  const layers: unknown[] = [];
  if (rules.length > 0) {
    layers.push({
      data: { values: rules },
      mark: { type: 'rule', color: '#b8b8b8', strokeWidth: 0.8, opacity: 0.8 },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: xScale, title: xTitle, ...axis },
        y: { field: 'y', type: 'quantitative', scale: yScale, title: yTitle, ...axis },
        x2: { field: 'x2' },
        y2: { field: 'y2' },
      },
    });
  }
  layers.push({
    data: { values: points },
    mark: { type: 'circle', opacity: 0.92, stroke: '#444', strokeWidth: 0.4 },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale: xScale, title: xTitle, ...axis },
      y: { field: 'y', type: 'quantitative', scale: yScale, title: yTitle, ...axis },
      color: { field: 'mae', type: 'quantitative', title: 'MAE', scale: { scheme: 'yelloworangered' } },
      size: { value: size },
      order: { field: 'mae', type: 'quantitative' },
    },
  });
  return { config: CONFIG, width, height, layer: layers } as TopLevelSpec;
}

export function projectionSpec(points: ProjectionPoint[]): TopLevelSpec | null {
  const values = points.filter((p) => finite(p.x) && finite(p.y)).map((p) => ({ x: p.x, y: p.y, kind: p.kind, city: p.city }));
  if (values.length === 0) return null;
  const cities = [...new Set(values.map((v) => v.city))];
  const shared = {
    x: { field: 'x', type: 'quantitative', title: 'PC 1', scale: { zero: false } },
    y: { field: 'y', type: 'quantitative', title: 'PC 2', scale: { zero: false } },
    color: { field: 'city', type: 'nominal', title: 'city', scale: { domain: cities, range: PALETTE } },
    shape: { field: 'kind', type: 'nominal', title: 'vector', scale: { domain: ['bank', 'generated'], range: ['circle', 'cross'] } },
  };
  // Two layers so the generated vectors are drawn on top of the bank cloud, bigger and outlined.
  return {
    config: CONFIG,
    width: 480,
    height: 360,
    data: { values },
    layer: [
      { transform: [{ filter: { field: 'kind', equal: 'bank' } }], mark: { type: 'point', filled: true, size: 40, opacity: 0.6 }, encoding: shared },
      { transform: [{ filter: { field: 'kind', equal: 'generated' } }], mark: { type: 'point', filled: true, size: 130, opacity: 1, stroke: '#1d2330', strokeWidth: 0.8 }, encoding: shared },
    ],
  } as TopLevelSpec;
}

/** Vega-Lite spec -> standalone SVG string; ids are prefixed so several SVGs can share one HTML page. */
export async function renderSpec(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    const svg = await view.toSVG();
    return prefixSvgIds(svg, idPrefix);
  } finally {
    view.finalize();
  }
}

/**
 * Vega numbers clip paths and gradients with a per-process counter (clip1, gradient_2...), and inline SVGs
 * share the page's id namespace: renumber every id (and each reference to it) per chart, which also makes
 * the output independent of how many charts the process rendered before.
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  const safe = prefix.replace(/[^A-Za-z0-9_-]/g, '_');
  const renamed = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) if (!renamed.has(m[1]!)) renamed.set(m[1]!, `${safe}-${renamed.size}`);
  if (renamed.size === 0) return svg;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_, a: string, id: string, b: string) => `${a}${renamed.get(id)}${b}`)
    .replace(/url\(#([^)]+)\)/g, (whole, id: string) => (renamed.has(id) ? `url(#${renamed.get(id)})` : whole))
    .replace(/(href=")#([^"]+)(")/g, (whole, a: string, id: string, b: string) => (renamed.has(id) ? `${a}#${renamed.get(id)}${b}` : whole));
}

/** Every chart of the report, in page order; charts without usable data come back with a reason. */
export async function renderCharts(data: ReportData): Promise<RenderedChart[]> {
  const colours = methodColours(data);
  const specs: Record<ChartName, [TopLevelSpec | null, string]> = {
    horizons: [horizonSpec(data.horizons, colours), 'no per-horizon errors in the report data'],
    series: [seriesSpec(data.series, colours), 'no predicted series in the report data'],
    map: [regionMapSpec(data.regions, data.edges), 'no per-region errors in the report data'],
    projection: [projectionSpec(data.projection), 'no parameter projection in the report data'],
    'bank-loss': [bankLossSpec(data.bankCurves), 'no positive bank training losses in the report data'],
    'diffusion-loss': [diffusionLossSpec(data.diffusionCurve), 'no positive diffusion training losses in the report data'],
  };
  const out: RenderedChart[] = [];
  for (const name of CHART_NAMES) {
    const [spec, reason] = specs[name];
    out.push(spec ? { name, svg: await renderSpec(spec, `chart-${name}`) } : { name, svg: null, reason });
  }
  return out;
}

