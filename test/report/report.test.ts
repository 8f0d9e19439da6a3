/**
 * The HTML report from a hand-built ReportData: every chart is an inline SVG drawing one mark per data item,
 * the tables hold the numbers, nothing is fetched from the network, text from the data is escaped, and
 * report-data.json problems are reported by file and field. Plus the PCA and graph layout behind the charts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHART_NAMES, methodColours } from '../../src/report/charts.js';
import { escapeHtml, formatNumber, formatStd, renderReport } from '../../src/report/html.js';
import { edgesFromAdjacency, graphLayout, pca2d } from '../../src/report/project.js';
import { validateReportData, writeReport } from '../../src/report/write.js';
import { Rng } from '../../src/util/prng.js';
import { buildReportData, EXPECTED_MARKS, MAP_REGIONS } from './fixture.js';

const DATA_MARKS = /aria-roledescription="(point|circle|line mark|rule mark)"/g;

function figures(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/<figure class="chart" data-chart="([^"]+)">([\s\S]*?)<\/figure>/g)) out.set(m[1]!, m[2]!);
  return out;
}

// One render shared by the page-level tests (about 3 s on a loaded 2-core machine).
const data = buildReportData();
const htmlPromise = renderReport(data);

test('every chart is an inline SVG with one mark per data item', async () => {
  const html = await htmlPromise;
  const figs = figures(html);
  assert.deepEqual([...figs.keys()], [...CHART_NAMES]);
  for (const [name, body] of figs) {
    const svgs = body.match(/<svg\b/g) ?? [];
    assert.equal(svgs.length, 1, `${name}: one svg`);
    const size = body.match(/<svg[^>]*\swidth="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/);
    assert.ok(size && Number(size[1]) > 300 && Number(size[2]) > 200, `${name}: svg size ${size?.[1]}x${size?.[2]}`);
    assert.equal((body.match(DATA_MARKS) ?? []).length, EXPECTED_MARKS[name], `${name}: data marks`);
  }
  // Map circles are coloured by MAE: the worst and best regions get different fills.
  const fills = new Set([...figs.get('map')!.matchAll(/aria-roledescription="circle"[^>]*fill="([^"]+)"/g)].map((m) => m[1]));
  assert.ok(fills.size >= 10, `map uses a colour ramp (${fills.size} distinct fills)`);
  // Generated parameters are drawn with a different symbol than the bank (cross vs circle paths).
  const shapes = new Set([...figs.get('projection')!.matchAll(/aria-roledescription="point"[^>]*\sd="([^"]+)"/g)].map((m) => m[1]!.replace(/[\d.-]+/g, '#')));
  assert.equal(shapes.size, 2, 'two marker shapes in the projection');
});

test('tables under the charts and the summary hold the numbers', async () => {
  const html = await htmlPromise;
  // GPD (MAE 3.14159, std 0.121) is best and bold; Historical average (3.5 +- 0.051) is not.
  assert.match(html, /<span class="best">3\.142 <span class="std">± 0\.12<\/span><\/span>/);
  assert.match(html, /<span class="">3\.500 <span class="std">± 0\.051<\/span><\/span>/);
  assert.match(html, /<span class="best">4\.555 <span class="std">± 0\.14<\/span><\/span>/); // GPD RMSE 3.14159 * 1.45
  const numbers = html.split('<div class="numbers">').slice(1);
  assert.equal(numbers.length, CHART_NAMES.length, 'a table under every chart');
  // Horizon table: GPD MAE at h1 = 3.14159 * 0.8, RMSE at h6 = 3.14159 * 1.7.
  assert.ok(numbers[0]!.includes('<td class="num">2.513</td>') && numbers[0]!.includes('<td class="num">5.341</td>'));
  // Map table: every region's MAE, worst first.
  const mapTable = numbers[2]!;
  const worst = [...data.regions].sort((a, b) => b.mae - a.mae);
  let last = -1;
  for (const r of worst) {
    const at = mapTable.indexOf(`<td class="num">${formatNumber(r.mae)}</td>`);
    assert.ok(at > last, `region ${r.region} MAE ${formatNumber(r.mae)} listed in order`);
    last = at;
  }
  assert.match(mapTable, new RegExp(`${MAP_REGIONS} regions \\(latlon coordinates\\)`));
  // Series table: MAE of each predicted series against the observed one over the shown steps, recomputed here.
  const truth = data.series.filter((p) => p.region === '12' && p.method === 'truth');
  const gpd = data.series.filter((p) => p.region === '12' && p.method === 'gpd');
  const mae = gpd.reduce((s, p, i) => s + Math.abs(p.value - truth[i]!.value), 0) / gpd.length;
  assert.ok(numbers[1]!.includes(`<td class="num">${formatNumber(mae)}</td>`), `series MAE ${formatNumber(mae)}`);
  // Diffusion table: final train loss 1.2 e^-3.9 + 0.05.
  assert.ok(numbers[5]!.includes(formatNumber(1.2 * Math.exp(-39 / 10) + 0.05)));
});

test('self-contained: no script, no external resource, ids unique and every reference resolves', async () => {
  const html = await htmlPromise;
  // The browser is told to load nothing external, and every other "http" on the page is an SVG namespace.
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">/);
  const allHttp = (html.match(/http(?!-equiv)/g) ?? []).length;
  const namespaces = (html.match(/ xmlns="http:\/\/www\.w3\.org\/2000\/svg"| xmlns:xlink="http:\/\/www\.w3\.org\/1999\/xlink"/g) ?? []).length;
  assert.ok(namespaces >= CHART_NAMES.length);
  assert.equal(allHttp, namespaces, 'no URL besides the SVG namespaces');
  assert.doesNotMatch(html, /<script|<img|<iframe|\ssrc=|@import/i);
  for (const m of html.matchAll(/url\(([^)]*)\)/g)) assert.match(m[1]!, /^#/, `url(${m[1]}) must be a fragment`);
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(new Set(ids).size, ids.length, 'ids unique across the page');
  for (const m of html.matchAll(/(?:url\(#|href="#)([^)"]+)/g)) assert.ok(ids.includes(m[1]!), `#${m[1]} resolves`);
  // Rendering is deterministic (ids do not depend on what the process rendered before).
  assert.equal(await renderReport(data), html);
});

test('text from the data is escaped everywhere', async () => {
  const html = await htmlPromise;
  assert.ok(!html.includes('<b>&'), 'raw <b>& never appears');
  const escaped = '&lt;b&gt;&amp;';
  const figs = figures(html);
  assert.ok(figs.get('series')!.includes(`>${escaped}</text>`), 'facet header in the SVG');
  const numbers = html.split('<div class="numbers">').slice(1);
  assert.ok(numbers[1]!.includes(`<th scope="row">${escaped}</th>`), 'series table');
  assert.ok(numbers[2]!.includes(`<th scope="row">${escaped}</th>`), 'map table');
  assert.ok(html.includes('<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>'), 'notes');
  assert.ok(html.includes('a &lt;tag&gt; &amp; \\&quot;quotes\\&quot;'), 'config');
  assert.equal(escapeHtml(`"'<>&`), '&quot;&#39;&lt;&gt;&amp;');
});

test('GPD methods get the strong warm colours, the same in every chart', () => {
  const c = methodColours({
    summary: [
      { method: 'ha', label: 'Historical average', mae: 1, rmse: 1 },
      { method: 'gpd_zero_shot', label: 'GPD zero-shot', mae: 1, rmse: 1 },
      { method: 'gpd', label: 'GPD', mae: 1, rmse: 1 },
      { method: 'gpdx', label: 'not ours', mae: 1, rmse: 1 },
    ],
    horizons: [],
    series: [{ region: 'r', method: 'last', step: 0, value: 1 }],
  });
  assert.deepEqual(c.labels, ['Historical average', 'GPD zero-shot', 'GPD', 'not ours', 'last']);
  assert.deepEqual([...c.highlighted].sort(), ['GPD', 'GPD zero-shot']);
  assert.equal(c.colours[2], '#d62728');
  assert.equal(c.colours[1], '#ff7f0e');
  assert.equal(new Set(c.colours).size, 5);
  assert.equal(c.labelOf('truth'), 'observed');
});

test('number formats', () => {
  assert.equal(formatNumber(3.14159), '3.142');
  assert.equal(formatNumber(1234.56), '1234.6');
  assert.equal(formatNumber(0.012345), '0.0123');
  assert.equal(formatNumber(0.00012345), '1.23e-4');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(NaN), '–');
  assert.equal(formatStd(0.0512), '0.051');
  assert.equal(formatStd(1.26), '1.3');
});

test('charts without data are left out with a reason, the rest still render', async () => {
  const sparse = { ...buildReportData(), diffusionCurve: [], projection: [], bankCurves: [{ series: 'shared model', epoch: 1, loss: 0, split: 'train' as const }] };
  const html = await renderReport(sparse);
  assert.deepEqual([...figures(html).keys()], ['horizons', 'series', 'map']);
  for (const name of ['projection', 'bank-loss', 'diffusion-loss']) assert.match(html, new RegExp(`data-chart-missing="${name}"`));
  assert.match(html, /Not shown: no positive bank training losses in the report data\./);
});

test('pca2d recovers a planted 2-D structure and projects the bank onto its own scores', () => {
  const rng = new Rng(5);
  const P = 400;
  const n = 40;
  // Two orthonormal directions in R^P, latent coordinates with very different spreads, small noise.
  const u = rng.normalArray(P);
  const v = rng.normalArray(P);
  const nu = Math.hypot(...u);
  for (let j = 0; j < P; j++) u[j]! /= nu;
  const uv = u.reduce((s, x, j) => s + x * v[j]!, 0);
  for (let j = 0; j < P; j++) v[j]! -= uv * u[j]!;
  const nv = Math.hypot(...v);
  for (let j = 0; j < P; j++) v[j]! /= nv;
  const offset = rng.normalArray(P, 3, 1);
  const latent = Array.from({ length: n }, () => [4 * rng.normal(), 1.5 * rng.normal()] as const);
  const bank = latent.map(([a, b]) => Float32Array.from(offset, (o, j) => o + a * u[j]! + b * v[j]! + 1e-3 * rng.normal()));

  const { base, extra, explained } = pca2d(bank, bank);
  assert.ok(explained[0] + explained[1] > 0.9999, `explained ${explained}`);
  assert.ok(explained[0] > explained[1]);
  // The 2-D scores are the centred latent coordinates up to a rotation/reflection: all distances agree.
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const d2 = Math.hypot(base[a]![0] - base[b]![0], base[a]![1] - base[b]![1]);
      const dl = Math.hypot(latent[a]![0] - latent[b]![0], latent[a]![1] - latent[b]![1]);
      assert.ok(Math.abs(d2 - dl) < 5e-3, `distance ${a}-${b}: ${d2} vs ${dl}`);
    }
  }
  // Scores are centred, and projecting the bank again gives the fitted scores.
  for (const k of [0, 1]) assert.ok(Math.abs(base.reduce((s, p) => s + p[k]!, 0) / n) < 1e-4);
  for (let a = 0; a < n; a++) {
    assert.ok(Math.abs(extra[a]![0] - base[a]![0]) < 1e-4 && Math.abs(extra[a]![1] - base[a]![1]) < 1e-4, `bank vector ${a} re-projected`);
  }
  // Sign convention and determinism: a permuted bank gives the same (permuted) scores.
  const perm = new Rng(9).permutation(n);
  const again = pca2d(perm.map((i) => bank[i]!));
  perm.forEach((i, k) => {
    assert.ok(Math.abs(again.base[k]![0] - base[i]![0]) < 1e-6 && Math.abs(again.base[k]![1] - base[i]![1]) < 1e-6, `permuted ${k}`);
  });
  // A vector away from the bank only along directions the bank never varies in projects to the origin.
  const w = rng.normalArray(P);
  const wu = w.reduce((s, x, j) => s + x * u[j]!, 0);
  const wv = w.reduce((s, x, j) => s + x * v[j]!, 0);
  const mean = Float64Array.from({ length: P }, (_, j) => bank.reduce((s, b) => s + b[j]!, 0) / n);
  const orth = Float32Array.from(mean, (m, j) => m + 5 * (w[j]! - wu * u[j]! - wv * v[j]!));
  const [[ox, oy]] = pca2d(bank, [orth]).extra as [[number, number]];
  assert.ok(Math.abs(ox) < 0.02 && Math.abs(oy) < 0.02, `orthogonal vector -> (${ox}, ${oy})`);
  assert.throws(() => pca2d([new Float32Array(3), new Float32Array(4)]), /bank vector 1 has length 4, expected 3/);
});

test('graphLayout: deterministic, in the unit square, two communities drawn apart', () => {
  // Two 6-cliques joined by one bridge edge.
  const n = 12;
  const adj = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && (i < 6) === (j < 6)) adj[i * n + j] = 1;
  adj[5 * n + 6] = 1;
  const edges = edgesFromAdjacency(adj, n);
  assert.equal(edges.length, 2 * 15 + 1);
  const pos = graphLayout(n, edges, 3);
  assert.deepEqual(graphLayout(n, edges, 3), pos);
  for (const [x, y] of pos) assert.ok(x >= 0 && x <= 1 && y >= 0 && y <= 1);
  const dist = (a: number, b: number) => Math.hypot(pos[a]![0] - pos[b]![0], pos[a]![1] - pos[b]![1]);
  let intra = 0, nIntra = 0, inter = 0, nInter = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      if ((a < 6) === (b < 6)) (intra += dist(a, b)), nIntra++;
      else (inter += dist(a, b)), nInter++;
    }
  }
  assert.ok(intra / nIntra < 0.5 * (inter / nInter), `intra ${intra / nIntra} vs inter ${inter / nInter}`);
  assert.throws(() => graphLayout(3, [[0, 3]], 1), /edge 0-3 is outside 0\.\.2/);
});

test('writeReport writes report.html atomically and names the file and field of bad report data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpd-report-'));
  try {
    await assert.rejects(writeReport(dir), (e: Error) => e.message.includes(join(dir, 'report-data.json')) && /not found/.test(e.message));
    writeFileSync(join(dir, 'report-data.json'), '{"title": "x",');
    await assert.rejects(writeReport(dir), /report-data\.json is not valid JSON/);

    const bad = JSON.parse(JSON.stringify(data)) as Record<string, any>;
    delete bad.setup.kDays;
    bad.regions[2].mae = 'high';
    bad.projection[0].kind = 'other';
    writeFileSync(join(dir, 'report-data.json'), JSON.stringify(bad));
    await assert.rejects(writeReport(dir), (e: Error) => {
      assert.match(e.message, /report-data\.json is not valid report data/);
      assert.match(e.message, /setup\.kDays: .*number/);
      assert.match(e.message, /regions\[2\]\.mae: .*number/);
      assert.match(e.message, /projection\[0\]\.kind/);
      return true;
    });
    assert.throws(() => validateReportData({ ...data, summary: undefined }), /summary: /);

    writeFileSync(join(dir, 'report-data.json'), JSON.stringify(data));
    const out = await writeReport(dir);
    assert.equal(out, join(dir, 'report.html'));
    assert.equal(readFileSync(out, 'utf8'), await htmlPromise);

    // NaN is written by JSON.stringify as null: read back as a missing value, not an error.
    const unscored = { ...data, regions: data.regions.map((r, i) => (i === 0 ? { ...r, mae: NaN } : r)) };
    writeFileSync(join(dir, 'report-data.json'), JSON.stringify(unscored));
    const html = readFileSync(await writeReport(dir), 'utf8');
    assert.equal((figures(html).get('map')!.match(/aria-roledescription="circle"/g) ?? []).length, MAP_REGIONS - 1);
    assert.match(html, new RegExp(`${MAP_REGIONS} regions \\(latlon coordinates\\); MAE min [\\d.]+, median [\\d.]+, max [\\d.]+; 1 without a score`));
    assert.ok(html.includes(`<th scope="row">${escapeHtml(data.regions[0]!.region)}</th><td class="num">${formatNumber(data.regions[0]!.x)}</td><td class="num">${formatNumber(data.regions[0]!.y)}</td><td class="num">–</td>`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
