/**
 * `report-data.json` (report/data.ts, from the run's artefacts) -> `report.html`, both in the run folder.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic.js';
import { renderReport } from './html.js';
import type { ReportData } from './types.js';
import { writeReportData } from './data.js';
import { RUN_FILES } from '../transfer/run-folder.js';
import { ArtefactError, rethrowStorage } from '../util/errors.js';

export const REPORT_DATA_FILE = RUN_FILES.reportData;
export const REPORT_HTML_FILE = RUN_FILES.reportHtml;

const num = z.number().finite();
/**
 * A measured value (error, loss, coordinate, series value). JSON.stringify writes NaN and Infinity as null,
 * so null is read back as NaN: shown as missing ("–") in tables and left out of charts.
 */
const measured = z
  .number()
  .nullable()
  .transform((v) => (v === null ? NaN : v));
const str = z.string();

/** Mirrors `ReportData`; the annotation below keeps the two from drifting apart. */
const reportDataSchema = z.object({
  title: str,
  createdAt: str,
  command: str,
  wallSeconds: measured.optional(),
  setup: z.object({
    model: str,
    target: str,
    sources: z.array(str),
    kDays: num,
    conditioning: str,
    sampler: str,
    samplerSteps: num,
    seeds: z.array(num),
    backend: str,
  }),
  config: z.unknown(),
  bankCurves: z.array(z.object({ series: str, epoch: num, loss: measured, split: z.enum(['train', 'val']) })),
  diffusionCurve: z.array(z.object({ step: num, loss: measured, valLoss: measured.optional() })),
  horizons: z.array(z.object({ method: str, horizon: num, mae: measured, rmse: measured })),
  summary: z.array(z.object({ method: str, label: str, mae: measured, rmse: measured, maeStd: measured.optional(), rmseStd: measured.optional() })),
  series: z.array(z.object({ region: str, method: str, step: num, value: measured })),
  regions: z.array(z.object({ region: str, x: measured, y: measured, mae: measured, coordKind: str })),
  edges: z.array(z.object({ a: str, b: str })).optional(),
  projection: z.array(z.object({ x: measured, y: measured, kind: z.enum(['bank', 'generated']), city: str })),
  notes: z.array(str).optional(),
});

// Compile-time check that every valid parse is a ReportData (and the reverse, so fields are not forgotten).
type Parsed = z.output<typeof reportDataSchema>;
const _toReport = (p: Parsed): ReportData => p;
const _fromReport = (r: ReportData): Parsed => r;
void _toReport;
void _fromReport;

/** A readable path into the JSON, e.g. `series[3].value`. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out || '(top level)';
}

/**
 * Check parsed JSON against `ReportData`. Throws one error listing the first few problems, each naming the
 * file and the field (e.g. "report-data.json: setup.kDays: expected number, received undefined").
 */
export function validateReportData(value: unknown, file: string = REPORT_DATA_FILE): ReportData {
  const result = reportDataSchema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const lines = issues.slice(0, 8).map((i) => `  ${fieldPath(i.path)}: ${i.message}`);
  if (issues.length > 8) lines.push(`  ... and ${issues.length - 8} more`);
  throw new ArtefactError(file, `${file} is not valid report data:\n${lines.join('\n')}`, 'delete it and run `gpd report <run>` to rebuild it from the run');
}

/** Read `<runDir>/report-data.json`, validate it, write `<runDir>/report.html` atomically; returns its path. */
export async function writeReport(runDir: string): Promise<string> {
  const dataPath = join(runDir, REPORT_DATA_FILE);
  let text: string;
  try {
    text = readFileSync(dataPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') rethrowStorage(err, dataPath, 'read');
    throw new ArtefactError(dataPath, `${dataPath} not found: the run folder has no report data (run the pipeline first)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ArtefactError(dataPath, `${dataPath} is not valid JSON: ${(err as Error).message}`, 'delete it and run `gpd report <run>` to rebuild it from the run');
  }
  const data = validateReportData(json, dataPath);
  const html = await renderReport(data);
  const out = join(runDir, REPORT_HTML_FILE);
  writeFileAtomic(out, html);
  return out;
}

/** A finished run's report: report-data.json rebuilt from the run's artefacts, then report.html. */
export async function writeRunReport(runDir: string): Promise<string> {
  writeReportData(runDir);
  return writeReport(runDir);
}
