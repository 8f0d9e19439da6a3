/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG charts, no scripts, no network),
 * with the numbers behind every chart in a table right under it.
 */
import { renderCharts, type ChartName, type RenderedChart } from './charts.js';
import type { ReportData, SeriesPoint } from './types.js';

/** Escape text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Numbers as the tables show them: 3 decimals in the usual error range, fewer for big values, 3
 * significant digits or an exponent for small ones (losses), an en dash for a missing or non-finite value.
 */
export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return v.toFixed(1);
  if (a >= 1) return v.toFixed(3);
  if (a >= 1e-3) return v.toPrecision(3);
  return v.toExponential(2);
}

/** A spread needs fewer digits than its mean: 2 significant digits, no trailing zeros. */
export function formatStd(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return Math.abs(v) >= 100 ? v.toFixed(0) : String(Number(v.toPrecision(2)));
}

const withStd = (v: number, std?: number) => (std !== undefined && Number.isFinite(std) ? `${formatNumber(v)} <span class="std">± ${formatStd(std)}</span>` : formatNumber(v));

interface ChartText {
  title: string;
  caption: string;
}

const CHART_TEXT: Record<ChartName, ChartText> = {
  horizons: { title: 'Error per forecast horizon', caption: 'MAE and RMSE of every method at each step ahead, in original units, averaged over the target regions and seeds. Lower is better.' },
  series: { title: 'Predicted vs observed', caption: 'Horizon-1 predictions for a few target regions over part of the test period; the observed series is drawn in black.' },
  map: { title: 'GPD error per region', caption: 'Each target region at its coordinates (or, for a city without coordinates, a computed layout of its graph), coloured by the MAE of GPD; grey lines are graph edges.' },
  projection: { title: 'Parameter space', caption: 'The source bank’s parameter vectors projected on their first two principal components, coloured by city; generated parameters (crosses) are projected on the same axes.' },
  'bank-loss': { title: 'Parameter bank training', caption: 'Training and validation loss of a few source-region models and the shared model (log scale).' },
  'diffusion-loss': { title: 'Diffusion model training', caption: 'Denoising loss of the diffusion model over training steps (log scale).' },
};

/** A table whose first `textColumns` columns hold text (left-aligned) and the rest numbers (right-aligned). */
function table(head: string[], rows: string[][], textColumns = 1, cls = ''): string {
  const align = (i: number) => (i < textColumns ? '' : ' class="num"');
  const th = head.map((h, i) => `<th${align(i)}>${h}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${c}</th>` : `<td${align(i)}>${c}</td>`)).join('')}</tr>`).join('\n');
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function labelMap(data: ReportData): (method: string) => string {
  const labels = new Map(data.summary.map((s) => [s.method, s.label || s.method]));
  return (m) => (m === 'truth' ? 'observed' : (labels.get(m) ?? m));
}

function horizonTable(data: ReportData): string {
  const label = labelMap(data);
  const horizons = [...new Set(data.horizons.map((h) => h.horizon))].sort((a, b) => a - b);
  const methods = [...new Set(data.horizons.map((h) => h.method))];
  const rows: string[][] = [];
  for (const metric of ['mae', 'rmse'] as const) {
    for (const m of methods) {
      const byH = new Map(data.horizons.filter((h) => h.method === m).map((h) => [h.horizon, h[metric]]));
      const vals = horizons.map((h) => byH.get(h));
      const present = vals.filter((v): v is number => v !== undefined && Number.isFinite(v));
      const mean = present.length ? present.reduce((s, v) => s + v, 0) / present.length : NaN;
      rows.push([escapeHtml(label(m)), metric.toUpperCase(), ...vals.map((v) => formatNumber(v)), formatNumber(mean)]);
    }
  }
  return table(['method', 'metric', ...horizons.map((h) => `h${escapeHtml(h)}`), 'mean'], rows, 2);
}

function seriesTable(data: ReportData): string {
  const label = labelMap(data);
  const regions = [...new Set(data.series.map((s) => s.region))];
  const rows: string[][] = [];
  for (const region of regions) {
    const pts = data.series.filter((s) => s.region === region);
    const truth = new Map(pts.filter((p) => p.method === 'truth').map((p) => [p.step, p.value]));
    const methods = [...new Set(pts.map((p) => p.method))];
    for (const m of methods) {
      const mine = pts.filter((p) => p.method === m);
      rows.push([escapeHtml(region), escapeHtml(label(m)), String(mine.length), formatNumber(mean(mine.map((p) => p.value))), m === 'truth' ? '' : formatNumber(maeAgainst(mine, truth))]);
    }
  }
  return table(['region', 'series', 'points', 'mean value', 'MAE vs observed (shown steps)'], rows, 2);
}

function mean(values: number[]): number {
  const ok = values.filter(Number.isFinite);
  return ok.length ? ok.reduce((s, v) => s + v, 0) / ok.length : NaN;
}

function maeAgainst(points: SeriesPoint[], truth: Map<number, number>): number {
  const errs: number[] = [];
  for (const p of points) {
    const t = truth.get(p.step);
    if (t !== undefined) errs.push(Math.abs(p.value - t));
  }
  return mean(errs);
}

function median(values: number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function mapTable(data: ReportData): string {
  // Worst first; regions without a score (NaN) at the end.
  const sorted = [...data.regions].sort((a, b) => (Number.isFinite(b.mae) ? b.mae : -Infinity) - (Number.isFinite(a.mae) ? a.mae : -Infinity) || 0);
  const kind = data.regions[0]?.coordKind ?? '';
  const [xh, yh] = kind === 'latlon' ? ['longitude', 'latitude'] : ['x', 'y'];
  const rows = sorted.map((r) => [escapeHtml(r.region), formatNumber(r.x), formatNumber(r.y), formatNumber(r.mae)]);
  const full = table(['region', xh, yh, 'MAE'], rows, 1);
  const maes = data.regions.map((r) => r.mae).filter(Number.isFinite);
  const unscored = data.regions.length - maes.length;
  const stats = `<p class="stats">${data.regions.length} regions (${escapeHtml(kind || 'unknown')} coordinates); MAE min ${formatNumber(Math.min(...maes))}, median ${formatNumber(median(maes))}, max ${formatNumber(Math.max(...maes))}${unscored ? `; ${unscored} without a score` : ''}${data.edges?.length ? `; ${data.edges.length} edges drawn` : ''}.</p>`;
  if (rows.length <= 12) return stats + full;
  return `${stats}<details><summary>All ${rows.length} regions, worst first</summary>${full}</details>`;
}

function projectionTable(data: ReportData): string {
  const groups = new Map<string, { city: string; kind: string; xs: number[]; ys: number[] }>();
  for (const p of data.projection) {
    const key = `${p.kind}\u0000${p.city}`;
    const g = groups.get(key) ?? { city: p.city, kind: p.kind, xs: [], ys: [] };
    g.xs.push(p.x);
    g.ys.push(p.y);
    groups.set(key, g);
  }
  const rows = [...groups.values()]
    .sort((a, b) => (a.kind === b.kind ? a.city.localeCompare(b.city) : a.kind === 'bank' ? -1 : 1))
    .map((g) => [escapeHtml(g.city), escapeHtml(g.kind), String(g.xs.length), formatNumber(mean(g.xs)), formatNumber(mean(g.ys))]);
  return table(['city', 'vectors', 'count', 'centroid PC 1', 'centroid PC 2'], rows, 2);
}

interface CurveStats {
  count: number;
  first: number;
  best: number;
  bestAt: number;
  last: number;
}

function curveStats(points: { at: number; loss: number }[]): CurveStats {
  const s = [...points].filter((p) => Number.isFinite(p.loss)).sort((a, b) => a.at - b.at);
  let best = s[0];
  for (const p of s) if (best && p.loss < best.loss) best = p;
  return { count: s.length, first: s[0]?.loss ?? NaN, best: best?.loss ?? NaN, bestAt: best?.at ?? NaN, last: s[s.length - 1]?.loss ?? NaN };
}

function bankLossTable(data: ReportData): string {
  const keys = [...new Set(data.bankCurves.map((p) => `${p.series}\u0000${p.split}`))];
  const rows = keys.map((k) => {
    const [series, split] = k.split('\u0000') as [string, string];
    const st = curveStats(data.bankCurves.filter((p) => p.series === series && p.split === split).map((p) => ({ at: p.epoch, loss: p.loss })));
    return [escapeHtml(series), escapeHtml(split), String(st.count), formatNumber(st.first), `${formatNumber(st.best)} <span class="std">@ ${escapeHtml(st.bestAt)}</span>`, formatNumber(st.last)];
  });
  return table(['model', 'split', 'epochs', 'first loss', 'best loss @ epoch', 'last loss'], rows, 2);
}

function diffusionLossTable(data: ReportData): string {
  const rows: string[][] = [];
  const train = curveStats(data.diffusionCurve.map((p) => ({ at: p.step, loss: p.loss })));
  const val = curveStats(data.diffusionCurve.filter((p) => p.valLoss !== undefined).map((p) => ({ at: p.step, loss: p.valLoss! })));
  for (const [name, st] of [['train', train], ['val', val]] as const) {
    if (st.count === 0) continue;
    rows.push([name, String(st.count), formatNumber(st.first), `${formatNumber(st.best)} <span class="std">@ ${escapeHtml(st.bestAt)}</span>`, formatNumber(st.last)]);
  }
  return table(['split', 'logged steps', 'first loss', 'best loss @ step', 'last loss'], rows, 1);
}

const CHART_TABLE: Record<ChartName, (d: ReportData) => string> = {
  horizons: horizonTable,
  series: seriesTable,
  map: mapTable,
  projection: projectionTable,
  'bank-loss': bankLossTable,
  'diffusion-loss': diffusionLossTable,
};

function figure(chart: RenderedChart, data: ReportData): string {
  const text = CHART_TEXT[chart.name];
  const head = `<h2 id="${chart.name}">${escapeHtml(text.title)}</h2>`;
  if (chart.svg === null) {
    return `<section class="missing" data-chart-missing="${chart.name}">${head}<p>Not shown: ${escapeHtml(chart.reason)}.</p></section>`;
  }
  return `<section>${head}
<figure class="chart" data-chart="${chart.name}">
<figcaption>${escapeHtml(text.caption)}</figcaption>
<div class="plot">${chart.svg}</div>
</figure>
<div class="numbers">${CHART_TABLE[chart.name](data)}</div>
</section>`;
}

function summaryTable(data: ReportData): string {
  const finiteMin = (vals: number[]) => Math.min(...vals.filter(Number.isFinite));
  const bestMae = finiteMin(data.summary.map((s) => s.mae));
  const bestRmse = finiteMin(data.summary.map((s) => s.rmse));
  const rows = data.summary.map((s) => [
    escapeHtml(s.label || s.method),
    `<span class="${s.mae === bestMae ? 'best' : ''}">${withStd(s.mae, s.maeStd)}</span>`,
    `<span class="${s.rmse === bestRmse ? 'best' : ''}">${withStd(s.rmse, s.rmseStd)}</span>`,
  ]);
  const seeds = data.setup.seeds.length;
  return `${table(['method', 'MAE', 'RMSE'], rows, 1, 'summary')}
<p class="stats">Mean over horizons${seeds > 1 ? ` and ${seeds} seeds (± standard deviation over seeds)` : ''}; original units; best in bold.</p>`;
}

function setupTable(data: ReportData): string {
  const s = data.setup;
  const rows: [string, string][] = [
    ['target city', escapeHtml(s.target)],
    ['source cities', escapeHtml(s.sources.join(', '))],
    ['base model', escapeHtml(s.model)],
    ['few-shot days K', escapeHtml(s.kDays)],
    ['conditioning', escapeHtml(s.conditioning)],
    ['sampler', `${escapeHtml(s.sampler)} (${escapeHtml(s.samplerSteps)} steps)`],
    ['seeds', escapeHtml(s.seeds.join(', '))],
    ['backend', escapeHtml(s.backend)],
  ];
  if (data.wallSeconds !== undefined) rows.push(['wall time', escapeHtml(formatDuration(data.wallSeconds))]);
  return `<table class="setup"><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`).join('')}</tbody></table>`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const CSS = `
:root { --ink: #1d2330; --muted: #5b6475; --line: #e3e6ec; --card: #ffffff; --bg: #f5f6f8; --accent: #2f5d9a; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1060px; margin: 0 auto; padding: 28px 24px 56px; }
header h1 { margin: 0 0 4px; font-size: 26px; letter-spacing: -0.01em; }
header .meta { color: var(--muted); margin: 0 0 12px; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
pre.command { background: #1f2633; color: #e8edf5; padding: 10px 14px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
nav { margin: 8px 0 18px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 18px 22px; margin: 18px 0; box-shadow: 0 1px 2px rgba(20, 30, 50, 0.04); }
section.missing { color: var(--muted); }
h2 { font-size: 18px; margin: 0 0 8px; }
figure.chart { margin: 0; }
figcaption { color: var(--muted); font-size: 14px; margin-bottom: 10px; }
.plot { overflow-x: auto; }
.plot svg { display: block; max-width: 100%; height: auto; }
.numbers { margin-top: 12px; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13.5px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { background: #f0f2f6; font-weight: 600; border-bottom: 1px solid #cfd4dd; }
tbody tr:nth-child(even) { background: #fafbfc; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.setup th { font-weight: 600; color: var(--muted); width: 170px; }
table.summary { font-size: 14.5px; }
.best { font-weight: 700; }
.std { color: var(--muted); font-size: 0.92em; }
.stats { color: var(--muted); font-size: 13.5px; margin: 8px 0; }
ul.notes { margin: 8px 0 0; padding-left: 20px; }
details summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
details pre { background: #f7f8fa; border: 1px solid var(--line); padding: 10px 12px; border-radius: 6px; overflow-x: auto; max-height: 520px; }
/* Setup and results side by side on wide screens, stacked on narrow ones. */
.top { display: grid; grid-template-columns: minmax(0, 5fr) minmax(0, 7fr); gap: 18px; align-items: start; }
.top section { margin: 0; }
@media (max-width: 900px) { .top { grid-template-columns: 1fr; } }
footer { color: var(--muted); font-size: 13px; text-align: center; margin-top: 28px; }
`;

/** The whole report page for `data`. */
export async function renderReport(data: ReportData): Promise<string> {
  const charts = await renderCharts(data);
  const nav = charts.map((c) => `<a href="#${c.name}">${escapeHtml(CHART_TEXT[c.name].title)}</a>`).join('');
  const notes = data.notes?.length ? `<h2>Notes</h2><ul class="notes">${data.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  const config = data.config === undefined ? '' : `<section><h2 id="config">Configuration</h2><details><summary>Resolved configuration</summary><pre>${escapeHtml(JSON.stringify(data.config, null, 2))}</pre></details></section>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>${escapeHtml(data.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(data.title)}</h1>
<p class="meta">${escapeHtml(data.setup.target)} · K = ${escapeHtml(data.setup.kDays)} days · ${escapeHtml(data.setup.model)} · created ${escapeHtml(data.createdAt)}</p>
<pre class="command">${escapeHtml(data.command)}</pre>
</header>
<nav><a href="#results">Results</a>${nav}${config ? '<a href="#config">Configuration</a>' : ''}</nav>
<div class="top">
<section><h2 id="setup">Setup</h2>${setupTable(data)}</section>
<section><h2 id="results">Results</h2>${summaryTable(data)}${notes}</section>
</div>
${charts.map((c) => figure(c, data)).join('\n')}
${config}
<footer>Generated by gpd from report-data.json · ${escapeHtml(data.createdAt)}</footer>
</main>
</body>
</html>
`;
}
