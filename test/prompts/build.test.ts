import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { City } from '../../src/data/city.js';
import { DataError } from '../../src/data/city.js';
import { generateSyntheticCities } from '../../src/data/synthetic.js';
import { sourceSplit, targetSplit } from '../../src/data/splits.js';
import { concatPrompt, concatPrompts, fitPromptSpec, loadPromptSpec, regionPrompts, savePromptSpec } from '../../src/prompts/build.js';
import { buildPrompts, parsePromptSpec, promptLayout, type PromptSpec } from '../../src/prompts/spec.js';
import { cosine, nearestLanduseRatio as sharedNearestLanduseRatio } from './fixtures.js';

const cities = generateSyntheticCities({ seed: 11 });
const target = cities[0]!;
const sources = cities.slice(1);
const fewShot = targetSplit(target, 3).fewShot;

let plain: PromptSpec | undefined;
async function spec(): Promise<PromptSpec> {
  plain ??= await fitPromptSpec(sources);
  return plain;
}

/** Copy of a city with its own series/mask/attributes, so tests can edit it. */
function cloneCity(c: City): City {
  return {
    ...c,
    series: c.series.slice(),
    ...(c.mask ? { mask: c.mask.slice() } : {}),
    attributes: {
      ...c.attributes,
      ...(c.attributes.embeddings ? { embeddings: { ...c.attributes.embeddings } } : {}),
      ...(c.attributes.categories ? { categories: { ...c.attributes.categories } } : {}),
    },
  };
}

function nearestLanduseRatio(tgt: Float32Array[], src: Float32Array[][]): number {
  return sharedNearestLanduseRatio(target, sources, tgt, src);
}

test('default spec: components, dims and layout', async () => {
  const s = await spec();
  assert.deepEqual(
    s.components.map((c) => `${c.name}:${c.dim}:${c.required ? 'req' : 'opt'}`),
    ['structure:7:req', 'randomWalk:4:req', 'coords:3:opt', 'embedding:landuse:4:opt', 'category:poi:5:opt', 'profile:24:req', 'fourier:8:req', 'level:2:req', 'subgraphFourier:8:req'],
  );
  const layout = promptLayout(s);
  const p = regionPrompts(target, s, fewShot);
  assert.equal(p.spatial.length, target.N);
  assert.equal(p.spatial[0]!.length, layout.spatialDim);
  assert.equal(p.temporal[0]!.length, layout.temporalDim);
  for (const slot of layout.slots) {
    for (let n = 0; n < target.N; n++) assert.equal((slot.group === 'spatial' ? p.spatial : p.temporal)[n]![slot.flag], 1, `${slot.name} flag`);
  }
  assert.deepEqual(s.sources.map((x) => x.range), sources.map((c) => sourceSplit(c).train));
  const full = concatPrompts(p);
  assert.equal(full[3]!.length, layout.spatialDim + layout.temporalDim);
  assert.deepEqual(full[3], concatPrompt(p.spatial[3]!, p.temporal[3]!));
  // normalisation fitted on the sources: source prompt values are centred per dim
  const src = regionPrompts(sources[0]!, s, sourceSplit(sources[0]!).train);
  assert.ok(src.spatial.every((v) => v.every(Number.isFinite)));
});

test('prompts carry signal: the nearest source prompt has a much more similar land use than a random region', async (t) => {
  const s = await spec();
  const tgt = regionPrompts(target, s, fewShot);
  const src = sources.map((c) => regionPrompts(c, s, sourceSplit(c).train));
  // temporal prompt alone (no land-use input at all), from 3 few-shot days: measured 0.38 (4 data seeds: 0.22-0.54)
  const temporal = nearestLanduseRatio(tgt.temporal, src.map((p) => p.temporal));
  assert.ok(temporal < 0.6, `temporal: nearest/random land-use distance = ${temporal.toFixed(3)}`);
  // full prompt (what the nearest-prompt baseline compares)
  const full = nearestLanduseRatio(concatPrompts(tgt), src.map(concatPrompts));
  assert.ok(full < 0.4, `full prompt: nearest/random land-use distance = ${full.toFixed(3)}`);
  t.diagnostic(`nearest/random land-use distance: temporal ${temporal.toFixed(3)}, full ${full.toFixed(3)}`);
});

test('a temporal prompt from K=3 days is close to the one from the whole allowed history', async (t) => {
  const s = await spec();
  const few = regionPrompts(target, s, fewShot).temporal;
  const all = regionPrompts(target, s, { start: 0, end: fewShot.end }).temporal;
  let same = 0;
  let other = 0;
  for (let i = 0; i < target.N; i++) {
    same += cosine(few[i]!, all[i]!);
    for (let j = 0; j < target.N; j++) if (j !== i) other += cosine(few[i]!, all[j]!) / (target.N - 1);
  }
  same /= target.N;
  other /= target.N;
  // measured: 0.97 for the same region vs 0.53 for other regions
  assert.ok(same > 0.93, `same region cosine ${same.toFixed(3)}`);
  assert.ok(same - other > 0.3, `same ${same.toFixed(3)} vs other ${other.toFixed(3)}`);
  t.diagnostic(`K=3 vs full history cosine: same region ${same.toFixed(3)}, other regions ${other.toFixed(3)}`);
});

test("a target's prompts read no test-period value (and do read its few-shot days)", async () => {
  const s = await fitPromptSpec(sources, { mae: { steps: 20, seed: 3 } });
  const base = buildPrompts(target, s, fewShot);
  const edited = cloneCity(target);
  const { N, F } = edited;
  const test = targetSplit(target, 3).test;
  for (let t = test.start; t < test.end; t++) for (let i = t * N * F; i < (t + 1) * N * F; i++) edited.series[i] = edited.series[i]! * 7 + 100 * (i % 3);
  assert.deepEqual(buildPrompts(edited, s, fewShot), base);
  // sanity: the same edit inside the few-shot days does change them
  const inside = cloneCity(target);
  for (let t = fewShot.start; t < fewShot.start + 10; t++) for (let i = t * N * F; i < (t + 1) * N * F; i++) inside.series[i] = inside.series[i]! * 7 + 100 * (i % 3);
  assert.notDeepEqual(buildPrompts(inside, s, fewShot).temporal, base.temporal);
});

test('a component the city lacks is zeros with presence 0; the rest is unchanged', async () => {
  const s = await spec();
  const bare = cloneCity(target);
  delete bare.attributes.coords;
  delete bare.attributes.embeddings;
  delete bare.attributes.categories;
  const full = buildPrompts(target, s, fewShot);
  const p = buildPrompts(bare, s, fewShot);
  const layout = promptLayout(s);
  for (const slot of layout.slots.filter((x) => x.group === 'spatial')) {
    const missing = ['coords', 'embedding:landuse', 'category:poi'].includes(slot.name);
    assert.deepEqual(Array.from(p.presence[slot.name]!), new Array(target.N).fill(missing ? 0 : 1), slot.name);
    for (let n = 0; n < target.N; n++) {
      const got = Array.from(p.spatial[n]!.subarray(slot.offset, slot.flag + 1));
      const want = missing ? new Array(slot.dim + 1).fill(0) : Array.from(full.spatial[n]!.subarray(slot.offset, slot.flag + 1));
      assert.deepEqual(got, want, `${slot.name}, region ${n}`);
    }
  }
  assert.deepEqual(p.temporal, full.temporal);
  // a region with no observed reading in the range: temporal parts absent, flags 0
  const silent = cloneCity(target);
  silent.mask = new Uint8Array(silent.T * silent.N * silent.F).fill(1);
  for (let t = 0; t < silent.T; t++) silent.mask[(t * silent.N + 5) * silent.F] = 0;
  const q = buildPrompts(silent, s, fewShot);
  assert.equal(q.presence['profile']![5], 0);
  assert.ok(q.temporal[5]!.subarray(0, layout.slots.find((x) => x.name === 'subgraphFourier')!.offset).every((v) => v === 0));
  assert.equal(q.presence['subgraphFourier']![5], 1, 'its neighbours still give the subgraph context');
});

test('incompatible cities and specs fail with errors naming the city and component', async () => {
  const strict = await fitPromptSpec(sources, { required: ['embedding:landuse'] });
  assert.equal(strict.components.find((c) => c.name === 'embedding:landuse')!.required, true);
  const bare = cloneCity(target);
  bare.id = 'bare-city';
  delete bare.attributes.embeddings;
  assert.throws(
    () => regionPrompts(bare, strict, fewShot),
    (e: Error) => e instanceof DataError && /city bare-city: prompt component "embedding:landuse" is required by the prompt spec but the city does not provide it/.test(e.message),
  );
  const narrow = cloneCity(target);
  narrow.id = 'narrow-city';
  narrow.attributes.embeddings = { landuse: { dim: 2, data: new Float32Array(2 * target.N) } };
  const plainSpec = await spec();
  assert.throws(() => regionPrompts(narrow, plainSpec, fewShot), /city narrow-city: prompt component "embedding:landuse" has 2 dims in this city but the prompt spec was fitted with 4/);
  const oneFeature = await fitPromptSpec(sources, { feature: 1 }).catch((e: Error) => e);
  assert.ok(oneFeature instanceof Error && /feature 1 does not exist/.test(oneFeature.message), String(oneFeature));
  await assert.rejects(fitPromptSpec(sources, { components: ['structure', 'embedding'] }), /write it as "embedding:<attribute name>"/);
  await assert.rejects(fitPromptSpec(sources, { components: ['structure', 'embedding:kg'] }), /"embedding:kg": no source city provides it/);
  await assert.rejects(fitPromptSpec(sources, { components: ['heat'] }), /unknown prompt component "heat"/);
});

test('spec JSON round trip (with autoencoder weights) gives identical prompts; fitting is deterministic', async () => {
  const a = await fitPromptSpec(sources, { mae: { steps: 20, seed: 4 } });
  const b = await fitPromptSpec(sources, { mae: { steps: 20, seed: 4 } });
  assert.deepEqual(a, b);
  assert.ok(a.components.some((c) => c.name === 'mae' && c.dim === 16));
  const dir = mkdtempSync(join(tmpdir(), 'gpd-prompts-'));
  try {
    const path = join(dir, 'prompt-spec.json');
    savePromptSpec(path, a);
    const back = loadPromptSpec(path);
    assert.deepEqual(regionPrompts(target, back, fewShot), regionPrompts(target, a, fewShot));
    const broken = JSON.parse(JSON.stringify(a)) as { components: { dim: number }[] };
    broken.components[2]!.dim = -1;
    writeFileSync(path, JSON.stringify(broken));
    assert.throws(() => loadPromptSpec(path), new RegExp(`prompt spec ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid at components\\.2\\.dim`));
    assert.throws(() => parsePromptSpec({ ...a, mae: undefined }), /component "mae": the spec has no "mae" weights/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cities with other intervals share the prompt space', async (t) => {
  const s = await spec();
  const [hourly] = generateSyntheticCities({ seed: 11, cities: 1, intervalMinutes: 60 });
  const p = regionPrompts(hourly!, s, targetSplit(hourly!, 3).fewShot);
  const q = regionPrompts(target, s, fewShot);
  assert.equal(p.temporal[0]!.length, q.temporal[0]!.length);
  // same generator seed and city index: the same regions, sampled hourly instead of half-hourly
  let same = 0;
  for (let i = 0; i < target.N; i++) same += cosine(p.temporal[i]!, q.temporal[i]!) / target.N;
  assert.ok(same > 0.8, `hourly vs half-hourly temporal prompt cosine ${same.toFixed(3)}`);
  t.diagnostic(`hourly vs half-hourly temporal prompt cosine ${same.toFixed(3)}`);
});
