/**
 * Turns a finished transfer run into the report's data (src/report/types.ts): every number shown
 * in the HTML comes from here, computed from the run's own artefacts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReportData, SeriesPoint, RegionError, ProjectionPoint, DiffusionCurvePoint, BankCurvePoint } from '../report/types.js';
import { pca2d, graphLayout, edgesFromAdjacency } from '../report/project.js';
import { METHODS, METHOD_LABELS, type Method } from './evaluate.js';
import type { ReportInputs } from './pipeline.js';
import { OUT_STEPS } from '../data/task.js';

const SERIES_METHODS: (Method | 'truth')[] = ['truth', 'gpd', 'gpd_zero_shot', 'target_only', 'ha'];
const SERIES_REGIONS = 3;

function diffusionCurve(runDir: string): DiffusionCurvePoint[] {
  const file = join(runDir, 'generator', 'training', 'loss.jsonl');
  if (!existsSync(file)) return [];
  const out: DiffusionCurvePoint[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { step: number; loss: number; val?: number };
    out.push({ step: r.step, loss: r.loss, ...(r.val !== undefined ? { valLoss: r.val } : {}) });
  }
  // Keep the file's last record per step (a resumed run may repeat steps) and thin long curves.
  const byStep = new Map(out.map((p) => [p.step, p]));
  const pts = [...byStep.values()].sort((a, b) => a.step - b.step);
  const every = Math.max(1, Math.floor(pts.length / 400));
  return pts.filter((p, i) => i % every === 0 || p.valLoss !== undefined || i === pts.length - 1);
}

function bankCurves(r: ReportInputs): BankCurvePoint[] {
  const out: BankCurvePoint[] = [];
  for (const e of r.bank.entries.slice(0, 6)) {
    const curve = (e as { valCurve?: number[] }).valCurve;
    if (!curve) continue;
    curve.forEach((loss, epoch) => out.push({ series: `${e.city}/${e.regionId}`, epoch, loss, split: 'val' }));
  }
  return out;
}

export function buildReportData(r: ReportInputs): ReportData {
  const { cfg, target, prep } = r;
  const s = cfg.sampling;
  const steps = s.sampler === 'ddpm' ? cfg.diffusion.timesteps : s.steps;

  const series: SeriesPoint[] = [];
  for (const p of r.predictions.slice(0, SERIES_REGIONS)) {
    const name = target.nodeIds[p.region] ?? String(p.region);
    const shown = Math.min(p.starts.length, 2 * Math.round((24 * 60) / target.intervalMinutes));
    for (let k = 0; k < shown; k++) {
      const t = p.starts[k]! + 12; // horizon-1 target step
      const rel = t - prep.split.test.start;
      for (const m of SERIES_METHODS) {
        let v: number;
        if (m === 'truth') {
          const i = (t * target.N + p.region) * target.F + prep.feature;
          if (target.mask && target.mask[i] === 0) continue;
          v = target.series[i]!;
        } else {
          const pm = p.preds[m];
          if (!pm) continue;
          v = pm[k * OUT_STEPS]!;
        }
        series.push({ region: name, method: m, step: rel, value: v });
      }
    }
  }

  // Per-region MAE of GPD (fine-tuned when it was scored), as the evaluation computed it.
  const mapMethod: Method = r.perRegion.has('gpd') ? 'gpd' : 'gpd_zero_shot';
  const gpdMae = new Map((r.perRegion.get(mapMethod) ?? []).map((p) => [p.region, p.mae]));
  const coords = target.attributes.coords;
  const kind = coords ? (target.attributes.coordKind ?? 'planar') : 'layout';
  const layout = coords ? null : graphLayout(target.N, edgesFromAdjacency(target.adjacency, target.N), r.cfg.seed);
  const regions: RegionError[] = r.regions.map((reg) => {
    const name = target.nodeIds[reg] ?? String(reg);
    let x: number, y: number;
    if (coords) {
      // coords rows are (x/lon, y/lat) per City's contract.
      x = coords[reg * 2]!;
      y = coords[reg * 2 + 1]!;
    } else [x, y] = layout![reg]!;
    return { region: name, x, y, mae: gpdMae.get(reg) ?? NaN, coordKind: kind };
  });
  const inScored = new Set(r.regions);
  const edges = edgesFromAdjacency(target.adjacency, target.N)
    .filter(([a, b]) => inScored.has(a) && inScored.has(b))
    .map(([a, b]) => ({ a: target.nodeIds[a] ?? String(a), b: target.nodeIds[b] ?? String(b) }));

  const pca = pca2d(r.bank.vectors, r.generated);
  const projection: ProjectionPoint[] = [
    ...pca.base.map(([x, y], i) => ({ x, y, kind: 'bank' as const, city: r.bank.entries[i]!.city })),
    ...pca.extra.map(([x, y]) => ({ x, y, kind: 'generated' as const, city: target.id })),
  ];

  const sc = r.scores;
  const methods = METHODS.filter((m) => sc[m]);
  const notes: string[] = [];
  const gpd = sc.gpd;
  if (gpd) {
    for (const m of methods) {
      if (m === 'gpd') continue;
      const other = sc[m]!;
      const verdict = gpd.mae < other.mae ? 'beats' : 'does not beat';
      notes.push(`GPD (fine-tuned) ${verdict} ${METHOD_LABELS[m]}: MAE ${gpd.mae.toFixed(3)} vs ${other.mae.toFixed(3)}; lower MAE in ${other.regionsWon ?? 0} of ${r.regions.length} regions.`);
    }
  }
  if (r.regions.length < target.N) notes.push(`Scored ${r.regions.length} of ${target.N} target regions (a seeded sample; data.maxTargetRegions).`);

  return {
    title: `GPD transfer to ${target.id}`,
    createdAt: new Date().toISOString(),
    command: r.command,
    wallSeconds: r.wallSeconds,
    setup: {
      model: cfg.bank.model,
      target: target.id,
      sources: r.sources.map((c) => c.id),
      kDays: cfg.data.kDays,
      conditioning: cfg.diffusion.conditioning,
      sampler: s.sampler,
      samplerSteps: steps,
      seeds: [cfg.seed],
      backend: r.backend,
    },
    config: cfg,
    bankCurves: bankCurves(r),
    diffusionCurve: diffusionCurve(r.runDir),
    horizons: methods.flatMap((m) => sc[m]!.maeByHorizon.map((mae, h) => ({ method: m, horizon: h + 1, mae, rmse: sc[m]!.rmseByHorizon[h]! }))),
    summary: methods.map((m) => ({ method: m, label: METHOD_LABELS[m], mae: sc[m]!.mae, rmse: sc[m]!.rmse })),
    series,
    regions,
    edges,
    projection,
    notes,
  };
}

