import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summaryReplacementBlocked, type CheckedSummary } from '../../experiments/lib/checked-summary.js';

const row = (mae: number) => ({ gpd: { mae, rmse: mae * 2, mae_std: 0 } });

test('a summary that drops targets does not replace the checked one, and says which', () => {
  const current: CheckedSummary = { 'la-loop': row(3.3), 'nyc-bike-grid': row(4.4) };
  const why = summaryReplacementBlocked(current, { 'la-loop': row(3.1) });
  assert.ok(why);
  assert.match(why, /nyc-bike-grid/);
  assert.doesNotMatch(why, /la-loop/);
});

test('a summary covering every current target (or a first one) replaces it', () => {
  const current: CheckedSummary = { 'la-loop': row(3.3) };
  assert.equal(summaryReplacementBlocked(current, { 'la-loop': row(3.2), 'montevideo-bus': row(0.5) }), null);
  assert.equal(summaryReplacementBlocked(null, { 'la-loop': row(3.2) }), null);
});
