import type { Command } from 'commander';
import { Option } from 'commander';
import { resolve } from 'node:path';
import { initBackend } from '../../runtime/backend.js';
import { resolveCity, syntheticDefaultsOf } from '../../data/resolve.js';
import { parseTimestamp } from '../../data/loaders/csv.js';
import { IN_STEPS } from '../../data/task.js';
import type { City } from '../../data/city.js';
import { forecastCsv, forecastRegions, GPD_AUTO, loadRunModels } from '../../transfer/forecast.js';
import { readingsFromCity } from '../../transfer/forecast-input.js';
import { MODEL_METHODS } from '../../transfer/evaluate.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { ConfigError, quoteText } from '../../util/errors.js';
import { schemaArg } from '../config-options.js';
import { CityManifestSchema } from '../../data/loaders/manifest.js';

/** --until as a step index of the city: a step number, or an ISO time matched against its timestamps. */
function untilStep(city: City, until: string): number {
  if (/^\d+$/.test(until)) return Number(until);
  if (!city.timestamps) throw new ConfigError(`--until ${quoteText(until)}: ${city.id} has no timestamps; give a step number`);
  const ms = parseTimestamp(until, 'iso', () => '--until');
  const t = city.timestamps.indexOf(ms);
  if (t < 0) throw new ConfigError(`--until ${quoteText(until)}: no step of ${city.id} at that time (${new Date(city.timestamps[0]!).toISOString()} .. ${new Date(city.timestamps[city.T - 1]!).toISOString()}, every ${city.intervalMinutes} min)`);
  return t;
}

export function registerForecastCommand(program: Command): void {
  program
    .command('forecast')
    .description(
      "forecast the next 6 steps of every scored region of a finished run from a city's most recent 12 readings, in original units with " +
        "timestamps, with the run's models and the exact normalisation and seasonal baseline the run fitted",
    )
    .requiredOption('--run <dir>', 'a finished run folder of `gpd transfer` or `gpd demo`')
    .requiredOption('--city <ref>', 'the readings: a city manifest, a folder (with or without city.json) or synthetic:<id>; its node ids must be the run\'s')
    .addOption(new Option('--method <name>', `model to forecast with (default gpd: fine-tuned GPD; ${GPD_AUTO}: per region the fine-tuned or zero-shot model, chosen on the few-shot validation part)`).choices([...MODEL_METHODS, GPD_AUTO]))
    .option('--until <time|step>', 'forecast from the readings up to this step (ISO time or step number; default the last)')
    .option('--regions <ids>', 'comma-separated region (node) ids to forecast (default every scored region)')
    .option('--interval <minutes>', 'sampling interval of a folder whose files have no timestamps', schemaArg('interval', CityManifestSchema.shape.intervalMinutes))
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'json']).default('csv'))
    .option('-o, --out <file>', 'write the forecast to this file (atomically) instead of stdout')
    .action(async (o: { run: string; city: string; method?: string; until?: string; regions?: string; interval?: number; format: 'csv' | 'json'; out?: string }) => {
      await initBackend();
      const models = loadRunModels(o.run);
      // A few recent readings are enough here: the forecast reads 12 steps, not a training window.
      const city = resolveCity(o.city, syntheticDefaultsOf(models.config.data), { minSteps: IN_STEPS, ...(o.interval !== undefined ? { intervalMinutes: o.interval } : {}) });
      if (city.source?.startsWith('detected')) console.error(`readings: ${city.source}`);
      const readings = readingsFromCity(models.target, city, o.until !== undefined ? untilStep(city, o.until) : undefined);
      const result = forecastRegions(models, readings, { ...(o.method ? { method: o.method } : {}), ...(o.regions ? { regions: o.regions.split(',').map((s) => s.trim()) } : {}) });
      if (!readings.timestamps) console.error(`note: ${city.id} has no timestamps; forecasts are labelled with step numbers of its own series`);
      const text = o.format === 'json' ? JSON.stringify(result, null, 2) + '\n' : forecastCsv(result);
      if (o.out) {
        writeFileAtomic(o.out, text);
        console.error(`wrote ${resolve(o.out)}: ${result.forecasts.length} regions x 6 steps after ${result.lastReading} (${result.method})`);
      } else process.stdout.write(text);
    });
}
