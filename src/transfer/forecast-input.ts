/**
 * Recent readings for forecasting, lined up with a run's target nodes: from a City (`gpd forecast
 * --city`) or from per-node arrays (`gpd serve`). Every problem a user can fix is a ForecastInputError
 * naming the node, the step or the option, and the field it came from (serve turns it into a 400 with
 * that JSON path).
 */
import { DataError, type City, type DailyWindow } from '../data/city.js';
import { IN_STEPS } from '../data/task.js';
import type { TargetContext } from './target-file.js';

/** A bad forecast input; `path` is where it is in a request body (e.g. ['readings', 'n7']). */
export class ForecastInputError extends DataError {
  constructor(
    message: string,
    readonly path: (string | number)[] = [],
  ) {
    super(message);
    this.name = 'ForecastInputError';
  }
}

/** The 12 input steps of every target node, in the run target's node order. */
export interface RecentReadings {
  /** [12, N] original units; NaN = no reading (missing, or the node was not supplied). */
  values: Float64Array;
  /** 1 for nodes the input names at all. */
  present: Uint8Array;
  /** Times (ms, UTC clock) of the 12 steps, or null: then time of day comes from step indices. */
  timestamps: Float64Array | null;
  /** Step index of the first of the 12 steps in its own series (the clock when there are no timestamps). */
  stepOffset: number;
  /** Where the readings came from, for messages. */
  source: string;
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16);
const MS_PER_MINUTE = 60_000;

/** Slot of a time within a daily window (an integer below day.steps for a reading time). */
function daySlot(ms: number, intervalMinutes: number, day: DailyWindow): number {
  const minutes = ((((ms / MS_PER_MINUTE) % 1440) + 1440) % 1440) - day.startMinutes;
  return (((minutes % 1440) + 1440) % 1440) / intervalMinutes;
}

/**
 * The time `k` steps after (k > 0) or before (k < 0) a reading at `ms`: k intervals, where a series
 * covering part of each day (City.day) goes from a day's last reading to the next day's first.
 */
export function stepTime(ms: number, k: number, intervalMinutes: number, day?: DailyWindow): number {
  const step = intervalMinutes * MS_PER_MINUTE;
  if (!day) return ms + k * step;
  const overnight = (1440 - (day.steps - 1) * intervalMinutes) * MS_PER_MINUTE;
  let t = ms;
  for (let i = 0; i < Math.abs(k); i++) {
    const slot = daySlot(t, intervalMinutes, day);
    if (k > 0) t += slot === day.steps - 1 ? overnight : step;
    else t -= slot === 0 ? overnight : step;
  }
  return t;
}

/** How a step of the readings is named in messages and outputs. */
export function stepName(r: RecentReadings, k: number): string {
  return r.timestamps ? iso(r.timestamps[k]!) : `step ${r.stepOffset + k}`;
}

function checkInterval(ctx: TargetContext, interval: number, where: string, path: (string | number)[]): void {
  if (interval !== ctx.intervalMinutes) {
    throw new ForecastInputError(`${where} has a ${interval} min interval, the run's models forecast ${ctx.intervalMinutes} min steps (${ctx.cityId})`, path);
  }
}

/**
 * The 12 steps of `city` ending at step `until` (default: its last step). Its nodes are matched to the
 * run's by id; a node the run does not know is an error, a run node the city lacks is simply absent.
 */
export function readingsFromCity(ctx: TargetContext, city: City, until?: number): RecentReadings {
  const where = `city ${city.id}${city.source ? ` (${city.source})` : ''}`;
  checkInterval(ctx, city.intervalMinutes, where, ['interval']);
  if (JSON.stringify(city.day ?? null) !== JSON.stringify(ctx.day ?? null)) {
    throw new ForecastInputError(`${where} covers ${city.day ? `${city.day.steps} readings a day` : 'the whole day'}, the run's models ${ctx.day ? `${ctx.day.steps} readings a day from minute ${ctx.day.startMinutes}` : 'the whole day'} (daily window)`, ['daily']);
  }
  if (ctx.feature >= city.F) throw new ForecastInputError(`${where} has ${city.F} feature(s); the run forecasts feature ${ctx.feature}`);
  const last = until ?? city.T - 1;
  if (!Number.isInteger(last) || last < 0 || last >= city.T) throw new ForecastInputError(`--until: step ${last} is outside ${where}'s ${city.T} steps`, ['until']);
  if (last + 1 < IN_STEPS) {
    throw new ForecastInputError(`${where}: ${last + 1} step(s) of readings up to the forecast point, the models read the last ${IN_STEPS}`, ['readings']);
  }
  const index = new Map(ctx.nodeIds.map((id, i) => [id, i]));
  const unknown = city.nodeIds.filter((id) => !index.has(id));
  if (unknown.length > 0) {
    throw new ForecastInputError(`${where}: node id(s) ${unknown.slice(0, 5).map((u) => `"${u}"`).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} are not nodes of the run's city ${ctx.cityId}`, ['readings', unknown[0]!]);
  }
  const N = ctx.nodeIds.length;
  const start = last - IN_STEPS + 1;
  const values = new Float64Array(IN_STEPS * N).fill(NaN);
  const present = new Uint8Array(N);
  city.nodeIds.forEach((id, n) => {
    const j = index.get(id)!;
    present[j] = 1;
    for (let k = 0; k < IN_STEPS; k++) {
      const i = ((start + k) * city.N + n) * city.F + ctx.feature;
      if (!city.mask || city.mask[i] !== 0) values[k * N + j] = city.series[i]!;
    }
  });
  const timestamps = city.timestamps ? city.timestamps.slice(start, last + 1) : null;
  return { values, present, timestamps, stepOffset: start, source: where };
}

export interface JsonReadings {
  /** Node id -> readings, oldest first, the last at `end`; null = missing. */
  readings: Record<string, (number | null)[]>;
  /** ISO time of the last reading. */
  end: string;
  intervalMinutes?: number;
}

/** Per-node arrays ending at `end` (the request of `POST /v1/forecast`): the last 12 values of each. */
export function readingsFromJson(ctx: TargetContext, body: JsonReadings): RecentReadings {
  if (body.intervalMinutes !== undefined) checkInterval(ctx, body.intervalMinutes, 'the request', ['intervalMinutes']);
  const endMs = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(body.end) ? body.end : `${body.end}Z`);
  if (!Number.isFinite(endMs)) throw new ForecastInputError(`"${body.end}" is not an ISO time like 2024-05-01T08:30`, ['end']);
  const day = ctx.day;
  if (day) {
    const slot = daySlot(endMs, ctx.intervalMinutes, day);
    if (!Number.isInteger(slot) || slot >= day.steps) {
      throw new ForecastInputError(`"${body.end}" is not a reading time of the run's daily window (${day.steps} readings every ${ctx.intervalMinutes} min from minute ${day.startMinutes} after midnight)`, ['end']);
    }
  }
  const N = ctx.nodeIds.length;
  const index = new Map(ctx.nodeIds.map((id, i) => [id, i]));
  const values = new Float64Array(IN_STEPS * N).fill(NaN);
  const present = new Uint8Array(N);
  for (const [id, series] of Object.entries(body.readings)) {
    const j = index.get(id);
    if (j === undefined) throw new ForecastInputError(`node "${id}" is not a node of the run's city ${ctx.cityId}`, ['readings', id]);
    if (series.length < IN_STEPS) throw new ForecastInputError(`node "${id}": ${series.length} reading(s), the models read the last ${IN_STEPS}`, ['readings', id]);
    present[j] = 1;
    const from = series.length - IN_STEPS;
    for (let k = 0; k < IN_STEPS; k++) {
      const v = series[from + k];
      if (v !== null && v !== undefined) values[k * N + j] = v;
    }
  }
  const timestamps = Float64Array.from({ length: IN_STEPS }, (_, k) => stepTime(endMs, k - (IN_STEPS - 1), ctx.intervalMinutes, day));
  return { values, present, timestamps, stepOffset: 0, source: 'the request' };
}
