/**
 * `gpd export`: a finished run's models leave gpd. Every scored region's model is written as
 * safetensors under the reference PyTorch implementation's parameter names and shapes (the bank
 * interop mapping, models/reference.ts), so `model.load_state_dict(load_file(...))` loads it into the
 * GPD release's class; a JSON model card per city says what the models are, what they read, the
 * encoding their inputs and outputs go through, what they were trained on, how they scored and how
 * to load them.
 *
 *   <out>/<city>/model-card.json
 *   <out>/<city>/regions/region-NNNNN.safetensors    (NNNNN = the region's node index in the city)
 */
import { join } from 'node:path';
import { createForecaster, referenceInterop, type ModelName } from '../models/registry.js';
import { toReferenceFlat } from '../models/reference.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { lockFolder } from '../util/lock.js';
import { writeSafetensors, type SafeTensor } from '../util/safetensors.js';
import { autoChoice, GPD_AUTO, loadRunModels, resolveForecastMethod, type ForecastMethod } from './forecast.js';
import { RunFolder } from './run-folder.js';
import { IN_STEPS, OUT_STEPS } from '../data/task.js';
import { correctionLimits } from '../train/correction-bound.js';

export interface ExportResult {
  dir: string;
  card: string;
  files: string[];
  method: ForecastMethod;
}

const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function regionFileName(region: number): string {
  return `region-${String(region).padStart(5, '0')}.safetensors`;
}

/** Our flat vector as the reference's named tensors (unmapped reference tensors hold zeros, see the card). */
export function referenceTensors(model: ModelName, params: Float32Array): Record<string, SafeTensor> {
  const interop = referenceInterop(model);
  const layout = layoutOf(model);
  const flat = toReferenceFlat(layout, interop.mapping, params, interop.order);
  const out: Record<string, SafeTensor> = {};
  let offset = 0;
  for (const r of interop.order) {
    const size = product(r.shape);
    out[r.name] = { dtype: 'F32', shape: r.shape, data: flat.slice(offset, offset + size) };
    offset += size;
  }
  return out;
}

const layoutOf = (model: ModelName) => createForecaster(model).layout;

function howToLoad(model: ModelName, className: string, unused: string[]): string[] {
  const lines = [
    `Each regions/region-NNNNN.safetensors holds one region's ${className} (the GPD release's PyTorch class) under its own parameter names and shapes:`,
    `  from safetensors.torch import load_file; net = ${className}(...); net.load_state_dict(load_file(path)); net.eval()`,
    `Input x: [batch, n, ${IN_STEPS}, 2] for the region's n subgraph nodes in the order of regions[].nodes (centre first): the last ${IN_STEPS} steps of`,
    '  feature 0 = (reading - baseline.profile[slot][node] - normalisation.mean) / normalisation.std (0 where missing; profile term only with a baseline),',
    '  feature 1 = time of day in [0, 1) (UTC clock time of the step); slot = round(timeOfDay * slotsPerDay) mod slotsPerDay.',
    'Adjacency: regions[].adjacency ([n, n], row-normalised with self-loops), passed to the forward as the reference does.',
    `Output: [batch, n, ${OUT_STEPS}]; the centre's row z (index 0) is the forecast z * std + offset_h with offset_h = mean + profile[slot(t_h)][centre]`,
    `  + persistence[h] * x_last * std, where x_last is the centre's last input feature 0 (offset_h = mean without a baseline).`,
    "gpd clamps that forecast to [offset_h + correctionBound.lo, offset_h + correctionBound.hi] (the region's entry; null = unbounded): corrections no larger than the few-shot days showed.",
  ];
  if (model === 'gwn') lines.push('Batch norm: eval mode with fresh running statistics (mean 0, var 1), which is what the models were trained with (docs/models.md).');
  if (unused.length) lines.push(`Tensors ${unused.join(', ')} are never used by the forward and are written as zeros.`);
  return lines;
}

export function exportRun(runDir: string, outDir: string, opts: { method?: string } = {}): ExportResult {
  const run = new RunFolder(runDir);
  const models = loadRunModels(runDir);
  const method = resolveForecastMethod(models, opts.method);
  const saved = run.readConfig();
  const results = run.readResults();
  const t = models.target;
  const modelName = saved.config.bank.model;
  const interop = referenceInterop(modelName);
  const dir = join(outDir, t.cityId);
  // The run's models and results are read before anything is written; the city's folder is ours while we write it.
  const lock = lockFolder(dir, 'gpd export');
  try {
    const files: string[] = [];
    const regions = t.regions.map((g) => {
      const m = method === GPD_AUTO ? autoChoice(models, g.region) : method;
      const file = join('regions', regionFileName(g.region));
      writeSafetensors(join(dir, file), referenceTensors(modelName, models.params(m, g.region)), {
        format: 'gpd-export',
        model: interop.className,
        city: t.cityId,
        region: g.id,
        method: m,
      });
      files.push(file);
      const adjacency: number[][] = [];
      for (let a = 0; a < g.n; a++) adjacency.push(Array.from(g.adjacency.subarray(a * g.n, (a + 1) * g.n)));
      // The forecast bound in original units around offset_h (train/correction-bound.ts), as gpd scores and forecasts.
      const bound = correctionLimits(g.correction, saved.config.data.correctionBound, t.norm.std);
      return { id: g.id, index: g.region, file, method: m, nodes: g.nodes.map((n) => t.nodeIds[n]!), adjacency, correctionBound: bound, validation: models.validation(g.region)[m] ?? null };
    });
    const mapped = new Set(interop.mapping.map((e) => e.refName));
    const unused = interop.order.filter((r) => !mapped.has(r.name)).map((r) => r.name);
    const methodsForMetrics = method === GPD_AUTO ? ['gpd', 'gpd_zero_shot'] : [method];
    const layout = layoutOf(modelName);
    const card = {
      format: 'gpd-model-card',
      version: 1,
      city: { id: t.cityId, intervalMinutes: t.intervalMinutes, units: t.json.city.units, feature: t.feature, featureName: t.json.city.featureName, nodes: t.nodeIds.length },
      model: {
        name: modelName,
        referenceClass: interop.className,
        referenceParameters: interop.order,
        parameterCount: layout.size,
        layoutHash: layout.hash(),
        inputSteps: IN_STEPS,
        outputSteps: OUT_STEPS,
      },
      method: { name: method, label: method === GPD_AUTO ? 'per region: GPD fine-tuned or zero-shot, whichever had the lower MAE on the few-shot validation part' : (results.labels[method] ?? method) },
      normalisation: { feature: t.norm.feature, mean: t.norm.mean, std: t.norm.std },
      baseline: t.json.encoding.baseline,
      training: {
        sourceCities: results.sources,
        fewShotDays: t.json.kDays,
        fewShot: t.json.split.fewShot,
        fewShotTrain: t.json.split.fewShotTrain,
        fewShotValidation: t.json.split.fewShotVal,
        test: t.json.split.test,
        seed: saved.seed,
        command: saved.command,
        versions: saved.versions,
      },
      metrics: Object.fromEntries(
        [...methodsForMetrics, 'seasonal_baseline', 'ha'].filter((m) => results.methods[m]).map((m) => [m, { label: results.labels[m] ?? m, ...results.methods[m] }]),
      ),
      metricsNote: `test-period scores of the run (${results.regionsScored} of ${results.regionsTotal} regions, original units)`,
      regions,
      howToLoad: howToLoad(modelName, interop.className, unused),
    };
    const cardFile = join(dir, 'model-card.json');
    writeJsonAtomic(cardFile, card);
    return { dir, card: cardFile, files, method };
  } finally {
    lock.release();
  }
}
