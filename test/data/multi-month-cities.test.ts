/**
 * The four multi-month cities of ../shared/data, read in place through the shipped manifests, and
 * the daily window that the metro cities need (18 readings a day, inferred to be 06:00-24:00).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCity } from '../../src/data/load.js';
import { stepsPerDay } from '../../src/data/city.js';
import { timeOfDay, timeSlot, fitTimeProfile } from '../../src/data/time-profile.js';
import { targetSplit } from '../../src/data/splits.js';
import { regionSubgraph } from '../../src/data/subgraph.js';
import { regionWindows } from '../../src/data/windows.js';
import { fitNormalizer } from '../../src/data/normalize.js';
import { inspectCity } from '../../src/data/inspect.js';

const root = new URL('../..', import.meta.url).pathname;
const manifest = (id: string) => join(root, 'cities', `${id}.city.json`);

test('the two ride-hailing grids: 256 cells, 60 hourly days from 2016-10-01, the 8-neighbour graph', () => {
  for (const id of ['didi-chengdu', 'didi-xian']) {
    const c = loadCity(manifest(id));
    assert.equal(c.N, 256);
    assert.equal(c.T, 1440);
    assert.equal(stepsPerDay(c), 24);
    assert.equal(new Date(c.timestamps![0]!).toISOString(), '2016-10-01T00:00:00.000Z');
    // Corner cells have 3 neighbours, inner cells 8: 1860 directed edges in all.
    let edges = 0;
    for (let i = 0; i < c.adjacency.length; i++) if (c.adjacency[i]! > 0) edges++;
    assert.equal(edges, 1860);
    assert.equal(c.attributes.coordKind, 'latlon');
  }
});

test('metro cities: 18 readings a day from 06:00, the morning peak at 08:00 and the evening peak at 18:00', () => {
  for (const [id, N, days] of [['metro-shanghai', 288, 92], ['metro-chongqing', 113, 365]] as const) {
    const c = loadCity(manifest(id));
    assert.equal(c.N, N);
    assert.equal(c.T, days * 18);
    assert.deepEqual(c.day, { startMinutes: 360, steps: 18 });
    assert.equal(stepsPerDay(c), 18);
    assert.equal(inspectCity(c).timeSpan.days, days);
    // Step 0 reads 06:00, step 17 23:00, step 18 the next day's 06:00.
    assert.equal(timeOfDay(c, 0), 6 / 24);
    assert.equal(timeOfDay(c, 17), 23 / 24);
    assert.equal(timeOfDay(c, 18), 6 / 24);
    assert.equal(c.timestamps![18]! - c.timestamps![17]!, 7 * 3_600_000);
    assert.equal(timeSlot(c, 20), 2);
    // The city-wide mean profile: the morning peak is the 08:00 slot, the evening peak 18:00.
    const p = fitTimeProfile(c, { start: 0, end: c.T });
    const mean = (s: number) => p.table.slice(s * c.N, (s + 1) * c.N).reduce((a, b) => a + b, 0) / c.N;
    const slots = Array.from({ length: 18 }, (_, s) => mean(s));
    const argmax = (from: number, to: number) => slots.slice(from, to).indexOf(Math.max(...slots.slice(from, to))) + from;
    assert.equal(6 + argmax(0, 6), 8, `morning peak at ${6 + argmax(0, 6)}:00`);
    assert.equal(6 + argmax(9, 16), 18, `evening peak at ${6 + argmax(9, 16)}:00`);
    assert.ok(slots[0]! < slots[2]! / 5 && slots[17]! < slots[12]! / 5, 'near zero at 06:00 and 23:00');
  }
});

test('metro windows run across the overnight gap with each step on its clock time; K few-shot days are K x 18 steps', () => {
  const c = loadCity(manifest('metro-shanghai'));
  const split = targetSplit(c, 3);
  assert.equal(split.fewShot.end - split.fewShot.start, 54);
  const sub = regionSubgraph(c, 0);
  const norm = fitNormalizer(c, split.fewShot);
  const w = regionWindows(c, sub, { start: 10, end: 40 }, norm);
  // The window starting at step 10 (16:00) reads 16:00..23:00 then 06:00..09:00 of the next day.
  const k = Array.from(w.starts).indexOf(10);
  const tods = Array.from({ length: 12 }, (_, s) => w.x[((k * sub.n + 0) * 12 + s) * 2 + 1]!);
  assert.deepEqual(tods.map((v) => Math.round(v * 24)), [16, 17, 18, 19, 20, 21, 22, 23, 6, 7, 8, 9]);
});

test('daily windows: a missing row, a row out of order and a timestamp outside the window are named errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-daily-'));
  try {
    const lines = readFileSync(join(root, '../shared/data/metro-chongqing/traffic_node_18slots.csv'), 'utf8').split('\n').slice(0, 1 + 18 * 3);
    const m = JSON.parse(readFileSync(manifest('metro-chongqing'), 'utf8'));
    const write = (rows: string[], patch: (x: typeof m) => void = () => {}) => {
      writeFileSync(join(dir, 'flow.csv'), rows.join('\n') + '\n');
      const mm = JSON.parse(JSON.stringify(m));
      mm.series.file = 'flow.csv';
      mm.adjacency.file = join(root, '../shared/data/metro-chongqing/graph_neighbors.csv');
      patch(mm);
      writeFileSync(join(dir, 'city.json'), JSON.stringify(mm));
      return () => loadCity(dir);
    };
    assert.equal(write(lines)().T, 54);
    assert.throws(write([...lines.slice(0, 20), ...lines.slice(21)]), /flow\.csv, line 21: day 1, slot 2 where day 1, slot 1 was expected/);
    assert.throws(write(lines, (x) => (x.daily.steps = 17)), /flow\.csv, line 19: day 0, slot 17 where day 1, slot 0 was expected/);
    // Timestamps instead of day/slot columns: one falls at 05:00, outside the 06:00-23:00 window.
    const stamped = lines.map((l, i) => {
      const cells = l.split(',');
      if (i === 0) return ['time', ...cells.slice(2)].join(',');
      const [d, s] = [Number(cells[0]), Number(cells[1])];
      const hour = i === 30 ? 5 : 6 + s;
      return [`2016-08-0${1 + d}T${String(hour).padStart(2, '0')}:00`, ...cells.slice(2)].join(',');
    });
    const noColumns = (x: typeof m) => {
      delete x.series.dayColumn;
      delete x.series.slotColumn;
      x.series.timestampColumn = 'time';
    };
    assert.throws(write(stamped, noColumns), /flow\.csv, line 31, column 1: timestamp 2016-08-02T05:00:00\.000Z is outside the daily window \(18 readings from 06:00 to 23:00/);
    // Without the daily window, the overnight jump is named with the manifest key that fixes it.
    const good = stamped.map((l, i) => (i === 30 ? l.replace('T05:00', 'T17:00') : l));
    assert.equal(write(good, noColumns)().T, 54);
    assert.throws(write(good, (x) => { noColumns(x); delete x.daily; delete x.start; }), /line 20, column 1: timestamp 2016-08-02T06:00:00\.000Z is 420 min after the previous one.*"daily": \{"start": "06:00"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
