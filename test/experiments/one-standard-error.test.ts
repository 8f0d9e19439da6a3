import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oneStandardErrorPick } from '../../experiments/lib/one-standard-error.js';

test('the one-standard-error rule keeps the lowest factor when regions agree it is better, and falls back when they do not', () => {
  // Three regions; pooled MAE lowest at index 2 in both cases.
  const pooled = [10, 9.5, 9];
  // Every region gains about 1 from index 0 to 2: the gain is many standard errors, so index 2 stays.
  const agree = [
    [10, 9.5, 9],
    [11, 10.4, 10.1],
    [9, 8.6, 7.9],
  ];
  assert.deepEqual(oneStandardErrorPick(pooled, agree), { pick: 2, lowest: 2 });
  // One region gains 3, two lose a little: mean gain 0.9 against one standard error, so the
  // smallest factor (index 0) is within one standard error (about 1.05) of the lowest.
  const split = [
    [10, 9, 7],
    [10, 10.2, 10.2],
    [10, 10.3, 10.1],
  ];
  assert.deepEqual(oneStandardErrorPick(pooled, split), { pick: 0, lowest: 2 });
  // Index 1 is close enough once index 0 is clearly worse.
  const middle = [
    [12, 9.1, 9],
    [12.5, 10.05, 10],
    [11.8, 8.8, 8.9],
  ];
  assert.deepEqual(oneStandardErrorPick(pooled, middle), { pick: 1, lowest: 2 });
  // One region: no spread, the lowest stands.
  assert.deepEqual(oneStandardErrorPick(pooled, [[10, 9.5, 9]]), { pick: 2, lowest: 2 });
  // Ties in the pooled MAE go to the earlier factor.
  assert.deepEqual(oneStandardErrorPick([9, 9, 10], agree), { pick: 0, lowest: 0 });
});
