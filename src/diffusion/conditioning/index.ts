/**
 * The registry of conditioning strategies (GPD section 4.3 / the reference's Transformer1..5): the
 * ways the denoiser feeds the prompts in. Each strategy is one unit (see unit.ts for the places it
 * can hook into); adding one is a new file plus an entry in UNITS.
 */
import { adaln } from './adaln.js';
import { postAdaptive } from './post-adaptive.js';
import { preAdaptive } from './pre-adaptive.js';
import { preBias } from './pre-bias.js';
import { pre } from './pre.js';
import type { ConditioningUnit } from './unit.js';

/** In the order of the paper's Transformer1..5 (configs and reports list them in this order). */
const UNITS = [preBias, pre, preAdaptive, postAdaptive, adaln] as const;

type Names<U extends readonly ConditioningUnit[]> = { readonly [K in keyof U]: U[K] extends ConditioningUnit<infer N> ? N : never };

export const CONDITIONING_STRATEGIES = UNITS.map((u) => u.name) as unknown as Names<typeof UNITS>;
export type ConditioningStrategy = (typeof CONDITIONING_STRATEGIES)[number];

export function conditioningUnit(name: string): ConditioningUnit {
  const unit = UNITS.find((u) => u.name === name);
  if (!unit) throw new Error(`unknown conditioning strategy "${name}" (expected one of ${CONDITIONING_STRATEGIES.join(', ')})`);
  return unit;
}
