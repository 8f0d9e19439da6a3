/**
 * The contract between the pipeline and the HTML report: the pipeline writes `<runDir>/report-data.json`
 * holding one `ReportData`, and `writeReport(runDir)` turns it into a self-contained `report.html`.
 * Everything here is plain JSON (numbers in original units, strings as shown to the reader), so a report
 * can be re-rendered later without re-running anything.
 */

/** What was run: shown as the setup table at the top of the report. */
export interface ReportSetup {
  /** Base model, e.g. "gwn" or "stgcn". */
  model: string;
  /** Target city id. */
  target: string;
  /** Source city ids. */
  sources: string[];
  /** Few-shot days K of the target. */
  kDays: number;
  /** Prompt / conditioning strategy, e.g. "spatial-kg" or "temporal-mae". */
  conditioning: string;
  /** Sampler name, e.g. "ddim" or "flow-euler". */
  sampler: string;
  samplerSteps: number;
  seeds: number[];
  /** tfjs backend used, e.g. "wasm". */
  backend: string;
}

/** One point of a training curve of the parameter bank (one region's model or the shared source model). */
export interface BankCurvePoint {
  /** Curve name, e.g. "la-loop/region 12" or "shared model". */
  series: string;
  epoch: number;
  loss: number;
  split: 'train' | 'val';
}

/** One point of the diffusion model's training curve. */
export interface DiffusionCurvePoint {
  step: number;
  loss: number;
  valLoss?: number;
}

/** Error of one method at one horizon step (1-based), original units, mean over seeds. */
export interface HorizonPoint {
  method: string;
  horizon: number;
  mae: number;
  rmse: number;
}

/** Headline row per method: errors averaged over horizons (and seeds, with their std over seeds). */
export interface SummaryRow {
  /** Machine name, matching `HorizonPoint.method` and `SeriesPoint.method`. */
  method: string;
  /** Human label, e.g. "GPD (fine-tuned)". */
  label: string;
  mae: number;
  rmse: number;
  maeStd?: number;
  rmseStd?: number;
}

/** One value of the predicted-vs-true plot; `method: 'truth'` holds the observed series. */
export interface SeriesPoint {
  region: string;
  method: string;
  /** Step index in the test period (or any monotone time index). */
  step: number;
  value: number;
}

/** GPD's error for one target region, placed on the map. */
export interface RegionError {
  region: string;
  /** Longitude (coordKind 'latlon') or planar/grid/layout x. */
  x: number;
  /** Latitude (coordKind 'latlon') or planar/grid/layout y. */
  y: number;
  mae: number;
  /** 'latlon' | 'planar' | 'grid' | 'layout' (computed graph layout, no real coordinates). */
  coordKind: string;
}

/** An undirected edge between two regions (by `RegionError.region` name), drawn on the map. */
export interface RegionEdge {
  a: string;
  b: string;
}

/** A 2-D projection (see `pca2d`) of a parameter vector: a bank member or a generated one. */
export interface ProjectionPoint {
  x: number;
  y: number;
  kind: 'bank' | 'generated';
  /** City the vector belongs to (source city for bank vectors, target city for generated ones). */
  city: string;
}

export interface ReportData {
  title: string;
  /** ISO-8601 timestamp of the run. */
  createdAt: string;
  /** The command line that reproduces the run. */
  command: string;
  wallSeconds?: number;
  setup: ReportSetup;
  /** Resolved config, shown collapsed. */
  config: unknown;
  bankCurves: BankCurvePoint[];
  diffusionCurve: DiffusionCurvePoint[];
  horizons: HorizonPoint[];
  summary: SummaryRow[];
  series: SeriesPoint[];
  regions: RegionError[];
  /** Graph edges for the map, typically when regions have no real coordinates. */
  edges?: RegionEdge[];
  projection: ProjectionPoint[];
  /** Honest remarks, e.g. which baselines beat GPD. */
  notes?: string[];
}
