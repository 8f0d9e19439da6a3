/**
 * The base forecasters by name: the one place a model name becomes a Forecaster, so the bank,
 * fine-tuning, export and the config's enum share one list.
 */
import type { Forecaster } from './types.js';
import { createStgcn } from './stgcn.js';
import { createGwn } from './gwn.js';

export const MODEL_NAMES = ['stgcn', 'gwn'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export function createForecaster(name: ModelName): Forecaster {
  if (name === 'stgcn') return createStgcn();
  if (name === 'gwn') return createGwn();
  throw new Error(`unknown model "${String(name)}" (expected stgcn or gwn)`);
}
