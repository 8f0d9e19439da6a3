/**
 * A finished transfer run's report data (src/report/types.ts), built from the run folder's own
 * artefacts (transfer/run-folder.ts): every number the HTML shows comes from here. Works on any
 * finished run, `gpd transfer`'s or the experiments'.
 */
import { existsSync } from 'node:fs';
import type { ReportData, SeriesPoint, RegionError, ProjectionPoint, DiffusionCurvePoint, BankCurvePoint } from './types.js';
import { pca2d, graphLayout, edgesFromAdjacency } from './project.js';
import { OUT_STEPS } from '../data/task.js';
import { stepsPerDay, type City } from '../data/city.js';
import { resolveCity, syntheticDefaultsOf } from '../data/resolve.js';
import { loadBank, type LoadedBank } from '../bank/store.js';
import { createForecaster } from '../models/registry.js';
import { prepareTarget, targetRegion, type TargetPrep } from '../train/target.js';
import { generatorLossCurve } from '../transfer/generate.js';
import { chooseTargetRegions } from '../transfer/pipeline.js';
import { readGenerated } from '../transfer/stages.js';
import { MethodScores } from '../transfer/scores.js';
import { METHODS, METHOD_LABELS, type Method } from '../transfer/evaluate.js';
import { RunFolder, type RunResults, type SavedRunConfig } from '../transfer/run-folder.js';
import { readSafetensors } from '../util/safetensors.js';
import { samplerSteps } from '../diffusion/config.js';
import { writeJsonAtomic } from '../util/atomic.js';

const SERIES_METHODS: (Method | 'truth')[] = ['truth', 'gpd', 'gpd_zero_shot', 'target_only', 'ha'];
const SERIES_REGIONS = 3;

function diffusionCurve(run: RunFolder): DiffusionCurvePoint[] {
  const pts: DiffusionCurvePoint[] = generatorLossCurve(run.path('generator')).map((r) => ({ step: r.step, loss: r.loss, ...(r.val !== undefined ? { valLoss: r.val } : {}) }));
  // Thin long curves, keeping every validation point and the last.
  const every = Math.max(1, Math.floor(pts.length / 400));
  return pts.filter((p, i) => i % every === 0 || p.valLoss !== undefined || i === pts.length - 1);
}

function bankCurves(bank: LoadedBank): BankCurvePoint[] {
  const out: BankCurvePoint[] = [];
  for (const e of bank.entries.slice(0, 6)) {
    const curve = (e as { valCurve?: number[] }).valCurve;
    if (!curve) continue;
    curve.forEach((loss, epoch) => out.push({ series: `${e.city}/${e.regionId}`, epoch, loss, split: 'val' }));
  }
  return out;
}

interface RegionPredictions {
  region: number;
  starts: Int32Array;
  preds: Partial<Record<Method, Float32Array>>;
}

/** Everything the report shows, read back from a finished run folder. */
interface ReportInputs {
  run: RunFolder;
  saved: SavedRunConfig;
  results: RunResults;
  target: City;
  prep: TargetPrep;
  bank: LoadedBank;
  regions: number[];
  /** Generated vectors, aligned with `regions` (empty when the run kept none). */
  generated: Float32Array[];
  predictions: RegionPredictions[];
  /** Each scored method's per-region mean MAE/RMSE. */
  perRegion: Map<Method, { region: number; mae: number; rmse: number }[]>;
}

function loadReportInputs(runDir: string): ReportInputs {
  const run = new RunFolder(runDir);
  const saved = run.readConfig();
  const results = run.readResults();
  const cfg = saved.config;
  const target = resolveCity(cfg.data.target, syntheticDefaultsOf(cfg.data));
  const prep = prepareTarget(target, cfg.data.kDays, cfg.data.feature, cfg.data.baseline, cfg.finetune.holdout);
  const bank = loadBank(run.bankDir(cfg));
  const regions = chooseTargetRegions(target.N, cfg.data.maxTargetRegions, cfg.seed);
  const generated = run.has('generated') ? readGenerated(run.path('generated'), regions, createForecaster(cfg.bank.model).layout.size) : [];
  const scores = new MethodScores();
  const predictions: RegionPredictions[] = [];
  for (const region of regions) {
    const file = run.evalRegion(region);
    if (!existsSync(file)) continue;
    const { tensors } = readSafetensors(file);
    const test = targetRegion(prep, region).test;
    const preds: Partial<Record<Method, Float32Array>> = {};
    for (const m of METHODS) {
      const t = tensors[m];
      if (!t || !results.methods[m]) continue;
      preds[m] = t.data as Float32Array;
      scores.add(m, region, preds[m]!, test);
    }
    predictions.push({ region, starts: test.starts, preds });
  }
  const perRegion = new Map(scores.methods().map((m) => [m as Method, scores.result(m).perRegion]));
  return { run, saved, results, target, prep, bank, regions, generated, predictions, perRegion };
}

/** The report data of a finished run folder. */
export function buildReportData(runDir: string): ReportData {
  const r = loadReportInputs(runDir);
  const cfg = r.saved.config;
  const { target, prep } = r;
  const s = cfg.sampling;
  const steps = samplerSteps(s, cfg.diffusion.timesteps);

  const series: SeriesPoint[] = [];
  for (const p of r.predictions.slice(0, SERIES_REGIONS)) {
    const name = target.nodeIds[p.region] ?? String(p.region);
    const shown = Math.min(p.starts.length, 2 * stepsPerDay(target));
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
  const layout = coords ? null : graphLayout(target.N, edgesFromAdjacency(target.adjacency, target.N), cfg.seed);
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

  const sc = r.results.methods as Partial<Record<Method, RunResults['methods'][string]>>;
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
    command: r.saved.command ?? '',
    ...(r.results.wallSeconds !== undefined ? { wallSeconds: r.results.wallSeconds } : {}),
    setup: {
      model: cfg.bank.model,
      target: target.id,
      sources: r.results.sources,
      kDays: cfg.data.kDays,
      conditioning: cfg.diffusion.conditioning,
      sampler: s.sampler,
      samplerSteps: steps,
      seeds: [cfg.seed],
      backend: r.saved.backend,
    },
    config: cfg,
    bankCurves: bankCurves(r.bank),
    diffusionCurve: diffusionCurve(r.run),
    horizons: methods.flatMap((m) => sc[m]!.maeByHorizon.map((mae, h) => ({ method: m, horizon: h + 1, mae, rmse: sc[m]!.rmseByHorizon[h]! }))),
    summary: methods.map((m) => ({ method: m, label: METHOD_LABELS[m], mae: sc[m]!.mae, rmse: sc[m]!.rmse })),
    series,
    regions,
    edges,
    projection,
    notes,
  };
}

/** Build and write `<run>/report-data.json` (atomically); returns its path. */
export function writeReportData(runDir: string): string {
  const run = new RunFolder(runDir);
  writeJsonAtomic(run.path('reportData'), buildReportData(runDir));
  return run.path('reportData');
}
