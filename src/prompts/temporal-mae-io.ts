/**
 * Storing the temporal autoencoder (prompts/temporal-mae.ts): as JSON inside a prompt spec, or as a
 * safetensors file other tools can open.
 */
import { readSafetensors, writeSafetensors, type SafeTensor } from '../util/safetensors.js';
import { checkConfig, DEFAULT_MAE_CONFIG, MAE_WEIGHT_NAMES, weightShapes, type MaeConfig, type MaeWeightName, type TemporalMae } from './temporal-mae.js';

/** JSON-safe form (weights as base64 of little-endian float32), embedded in a PromptSpec. */
export interface TemporalMaeJson {
  config: MaeConfig;
  weights: Record<MaeWeightName, string>;
}

export function maeToJson(m: TemporalMae): TemporalMaeJson {
  const weights = {} as Record<MaeWeightName, string>;
  for (const name of MAE_WEIGHT_NAMES) {
    const a = m.weights[name];
    weights[name] = Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  }
  return { config: { ...m.config }, weights };
}

function checkWeights(config: MaeConfig, weights: Record<MaeWeightName, Float32Array>, where: string): void {
  checkConfig(config);
  const shapes = weightShapes(config);
  for (const name of MAE_WEIGHT_NAMES) {
    const want = shapes[name].reduce((a, b) => a * b, 1);
    const got = weights[name];
    if (!got) throw new Error(`${where}: missing weight "${name}"`);
    if (got.length !== want) throw new Error(`${where}: weight "${name}" has ${got.length} values, expected ${want} ([${shapes[name].join(', ')}])`);
  }
}

export function maeFromJson(j: TemporalMaeJson, where = 'temporal MAE'): TemporalMae {
  const weights = {} as Record<MaeWeightName, Float32Array>;
  for (const name of MAE_WEIGHT_NAMES) {
    const s = j.weights?.[name];
    if (typeof s !== 'string') throw new Error(`${where}: missing weight "${name}"`);
    const buf = Buffer.from(s, 'base64');
    if (buf.length % 4 !== 0) throw new Error(`${where}: weight "${name}" is not float32 data`);
    const a = new Float32Array(buf.length / 4);
    new Uint8Array(a.buffer).set(buf);
    weights[name] = a;
  }
  const config = { ...DEFAULT_MAE_CONFIG, ...j.config };
  checkWeights(config, weights, where);
  return { config, weights };
}

/** Save as safetensors (config in the metadata) so other tools can open the weights. */
export function saveTemporalMae(path: string, m: TemporalMae): void {
  const shapes = weightShapes(m.config);
  const tensors: Record<string, SafeTensor> = {};
  for (const name of MAE_WEIGHT_NAMES) tensors[name] = { dtype: 'F32', shape: shapes[name], data: m.weights[name] };
  writeSafetensors(path, tensors, { format: 'gpd-temporal-mae', config: JSON.stringify(m.config) });
}

export function loadTemporalMae(path: string): TemporalMae {
  const { tensors, metadata } = readSafetensors(path);
  const where = `temporal MAE file ${path}`;
  if (metadata['format'] !== 'gpd-temporal-mae' || !metadata['config']) throw new Error(`${where}: not a gpd temporal MAE (metadata "format" is ${metadata['format'] ?? 'missing'})`);
  let config: MaeConfig;
  try {
    config = { ...DEFAULT_MAE_CONFIG, ...(JSON.parse(metadata['config']) as Partial<MaeConfig>) };
  } catch (err) {
    throw new Error(`${where}: metadata "config" is not JSON (${(err as Error).message})`);
  }
  const weights = {} as Record<MaeWeightName, Float32Array>;
  for (const name of MAE_WEIGHT_NAMES) {
    const t = tensors[name];
    if (!t) throw new Error(`${where}: missing tensor "${name}"`);
    if (t.dtype !== 'F32') throw new Error(`${where}: tensor "${name}" is ${t.dtype}, expected F32`);
    weights[name] = t.data as Float32Array;
  }
  checkWeights(config, weights, where);
  return { config, weights };
}
