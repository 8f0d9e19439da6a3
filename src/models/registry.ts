/**
 * The base forecasters by name: the one place a model name becomes a Forecaster, so the bank,
 * fine-tuning, export and the config's enum share one list.
 */
import type { Forecaster } from './types.js';
import { createStgcn, stgcnReferenceMapping, stgcnReferenceOrder } from './stgcn.js';
import { createGwn, gwnReferenceMapping, gwnReferenceOrder } from './gwn.js';
import type { ReferenceMapping, ReferenceOrder } from './reference.js';

export const MODEL_NAMES = ['stgcn', 'gwn'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export function createForecaster(name: ModelName): Forecaster {
  if (name === 'stgcn') return createStgcn();
  if (name === 'gwn') return createGwn();
  throw new Error(`unknown model "${String(name)}" (expected stgcn or gwn)`);
}

/** How a model's vector maps to the reference PyTorch implementation's named parameters (models/reference.ts). */
export interface ReferenceInterop {
  /** The reference class the names belong to (GPD release). */
  className: string;
  mapping: ReferenceMapping;
  order: ReferenceOrder;
}

export function referenceInterop(name: ModelName): ReferenceInterop {
  if (name === 'stgcn') return { className: 'STGCN_NonBias', mapping: stgcnReferenceMapping, order: stgcnReferenceOrder() };
  if (name === 'gwn') return { className: 'v_GWN', mapping: gwnReferenceMapping(), order: gwnReferenceOrder() };
  throw new Error(`unknown model "${String(name)}" (expected stgcn or gwn)`);
}
