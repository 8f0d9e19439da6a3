import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveCities } from '../../data/resolve.js';
import { inspectCity, formatInspect, type InspectReport } from '../../data/inspect.js';
import { loadDetectedCity, MANIFEST_FILE_NAME } from '../../data/load.js';
import { formatDetection } from '../../data/detect.js';
import { initCityFolder } from '../../data/init.js';
import { schemaArg } from '../config-options.js';
import { CityManifestSchema } from '../../data/loaders/manifest.js';

const isDetectedFolder = (ref: string) => existsSync(ref) && statSync(ref).isDirectory() && !existsSync(join(ref, MANIFEST_FILE_NAME));

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('inspect city datasets and write a city.json for a folder of files');
  data
    .command('inspect')
    .description(
      'print a city\'s size and quality figures: nodes, steps, interval, missing share, graph density, ' +
        'degree stats and per-feature mean/std; a folder without city.json is detected and the files picked are named',
    )
    .argument('<city...>', 'a *.city.json manifest, a folder (with or without city.json), or synthetic[:<id>] for the embedded generator')
    .option('--interval <minutes>', 'sampling interval of a detected folder whose files have no timestamps', schemaArg('interval', CityManifestSchema.shape.intervalMinutes))
    .option('--json', 'print the figures as JSON')
    .action((refs: string[], opts: { json?: boolean; interval?: number }) => {
      const reports: InspectReport[] = [];
      const detections: string[] = [];
      for (const ref of refs) {
        if (isDetectedFolder(ref)) {
          const { city, detection, intervalKnown } = loadDetectedCity(ref, { ...(opts.interval !== undefined ? { intervalMinutes: opts.interval } : {}), allowUnknownInterval: true });
          reports.push(inspectCity(city, { intervalKnown }));
          detections.push(formatDetection(detection));
        } else {
          for (const c of resolveCities(ref, undefined, opts.interval !== undefined ? { intervalMinutes: opts.interval } : {})) reports.push(inspectCity(c));
        }
      }
      if (opts.json) console.log(JSON.stringify(reports, null, 2));
      else {
        // What detection picked goes to stderr, so the figures on stdout stay the same for every kind of city.
        if (detections.length) console.error(`${detections.join('\n')}\n`);
        console.log(reports.map((r) => formatInspect(r)).join('\n\n'));
      }
    });
  data
    .command('init')
    .description(
      'detect the series and graph files of a folder (wide CSV with or without timestamps, dense adjacency CSV or edge list, ' +
        'npy/npz, node-link JSON), infer what it can (interval, node ids, missing-value markers) and write <folder>/city.json; ' +
        'prints what it inferred and what it could not',
    )
    .argument('<folder>', 'the folder holding the city\'s files')
    .option('--interval <minutes>', 'sampling interval in minutes, for files without timestamps', schemaArg('interval', CityManifestSchema.shape.intervalMinutes))
    .option('--id <id>', 'city id (default: from the folder name)')
    .option('--series <file>', 'the series file, when several qualify (an .npz member as file.npz:key)')
    .option('--graph <file>', 'the graph file, when several qualify (an .npz member as file.npz:key)')
    .option('--force', 'replace an existing city.json')
    .action((folder: string, o: { interval?: number; id?: string; series?: string; graph?: string; force?: boolean }) => {
      const r = initCityFolder(folder, {
        ...(o.interval !== undefined ? { intervalMinutes: o.interval } : {}),
        ...(o.id ? { id: o.id } : {}),
        ...(o.series ? { series: o.series } : {}),
        ...(o.graph ? { graph: o.graph } : {}),
        ...(o.force ? { force: true } : {}),
      });
      console.log(formatDetection(r.detection));
      console.log(`wrote ${r.file}: city "${r.city.id}", ${r.city.N} nodes, ${r.city.T} steps of ${r.city.intervalMinutes} min; check it with \`gpd data inspect ${folder}\``);
    });
}
