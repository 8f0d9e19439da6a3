/**
 * The written report opened in real headless Chromium: every chart's SVG lays out with a non-zero size and
 * its data marks, the page logs no console errors and makes no request besides itself, and a full-page
 * screenshot is saved to test-artifacts/report.png for a human look.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { writeJsonAtomic } from '../../src/util/atomic.js';
import { writeReport } from '../../src/report/write.js';
import { CHART_NAMES } from '../../src/report/charts.js';
import { buildReportData, EXPECTED_MARKS } from './fixture.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// GPD_CHROMIUM points the test at another build (and lets the missing-browser path be checked).
const CHROMIUM = process.env.GPD_CHROMIUM ?? '/usr/bin/chromium';

test('report renders in headless Chromium: every chart laid out with its marks, no console errors, no requests', { timeout: 90_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    const msg = `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the report browser test`;
    if (process.env.CI === 'true') assert.fail(msg);
    t.skip(msg);
    return;
  }
  const runDir = mkdtempSync(join(tmpdir(), 'gpd-report-browser-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    writeJsonAtomic(join(runDir, 'report-data.json'), buildReportData());
    const htmlPath = await writeReport(runDir);
    const pageUrl = pathToFileURL(htmlPath).href;

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleErrors: string[] = [];
    const failed: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pageUrl, { waitUntil: 'load' });

    const figures = await page.$$eval('figure.chart', (els) =>
      els.map((el) => {
        const svg = el.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        const marks = svg ? [...svg.querySelectorAll('[aria-roledescription]')] : [];
        const data = marks.filter((m) => ['point', 'circle', 'line mark', 'rule mark'].includes(m.getAttribute('aria-roledescription') ?? ''));
        const drawn = data.filter((m) => {
          const b = (m as unknown as { getBBox(): { width: number; height: number } }).getBBox();
          return b.width > 0 || b.height > 0;
        });
        return { name: el.getAttribute('data-chart'), width: box?.width ?? 0, height: box?.height ?? 0, marks: data.length, drawn: drawn.length };
      }),
    );
    assert.deepEqual(figures.map((f) => f.name), [...CHART_NAMES]);
    for (const f of figures) {
      assert.ok(f.width > 200 && f.height > 150, `${f.name}: svg box ${f.width}x${f.height}`);
      assert.equal(f.marks, EXPECTED_MARKS[f.name!], `${f.name}: data marks`);
      assert.equal(f.drawn, f.marks, `${f.name}: every data mark has a non-empty bounding box`);
    }
    // The escaped region name is shown as text, not parsed as markup.
    const pageText = await page.innerText('body');
    assert.ok(pageText.includes('<b>&'), 'region <b>& shown literally');
    assert.equal(await page.$$eval('b', (els) => els.length), 0, 'no <b> element injected from data');

    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(failed, []);
    assert.deepEqual(requests, [pageUrl], 'the page loads nothing but itself');

    mkdirSync(join(projectRoot, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(projectRoot, 'test-artifacts', 'report.png'), fullPage: true });
  } finally {
    await browser.close();
    rmSync(runDir, { recursive: true, force: true });
  }
});
