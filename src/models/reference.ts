/**
 * The bridge to the public PyTorch GPD release: its parity fixtures and its flattened parameter order.
 *
 * The reference flattens a model as the concatenation of its `named_parameters()` in order, each
 * tensor row-major in PyTorch's shape (its ModelParams_*.npy banks). Our layouts use their own names
 * and shapes (chosen for fast wasm forwards), so a `ReferenceMapping` lists, per reference tensor,
 * which of our entries it is and how to convert the data both ways.
 *
 * Stable API (other modules import these; do not change signatures):
 *   loadReferenceFixture(path): ReferenceFixture
 *   type ReferenceTensor = { shape: number[]; data: Float32Array }
 *   type ReferenceMappingEntry = { refName, ourName, toOurs(data, refShape), toRef(data, ourShape) }
 *   type ReferenceMapping = ReferenceMappingEntry[]
 *   type ReferenceOrder = { name: string; shape: number[] }[]
 *   identityMap(refName, ourName) | convMap(refName, ourName) | linearMap(refName, ourName)
 *   convWeightRefToOurs / convWeightOursToRef / transpose2d (the raw converters)
 *   fromReferenceParameters(layout, mapping, parameters: Record<string, ReferenceTensor>): Float32Array
 *   fromReferenceFlat(layout, mapping, refFlat: Float32Array, refOrder): Float32Array
 *   toReferenceFlat(layout, mapping, ours: Float32Array, refOrder): Float32Array
 *   referenceOrderOf(fixture): ReferenceOrder
 *
 * Rules: every entry of our layout must be produced by exactly one mapping entry. Reference tensors
 * without a mapping entry (e.g. GWN's residual convs that its forward never uses) are ignored on import
 * and written as zeros on export.
 */
import { readFileSync } from 'node:fs';
import type { ParamLayout } from './layout.js';

export interface ReferenceTensor {
  shape: number[];
  data: Float32Array;
}

export interface ReferenceFixture {
  model: string;
  mode: string;
  /** The reference's named_parameters() order. */
  parameterOrder: string[];
  parameters: Record<string, ReferenceTensor>;
  buffers: Record<string, ReferenceTensor>;
  /** [batch, nodes, time, features] */
  input: ReferenceTensor;
  /** [nodes, nodes], row-normalised with self-loops */
  adjacency: ReferenceTensor;
  /** [batch, nodes, horizon] */
  output: ReferenceTensor;
}

export interface ReferenceMappingEntry {
  refName: string;
  ourName: string;
  /** Reference data (row-major, PyTorch shape `refShape`) -> our entry's row-major data. */
  toOurs(data: Float32Array, refShape: number[]): Float32Array;
  /** Our entry's data (shape `ourShape`) -> reference row-major data. */
  toRef(data: Float32Array, ourShape: number[]): Float32Array;
}

export type ReferenceMapping = ReferenceMappingEntry[];
export type ReferenceOrder = { name: string; shape: number[] }[];

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function readTensor(file: string, key: string, raw: unknown): ReferenceTensor {
  const t = raw as { shape?: unknown; data?: unknown };
  if (!t || !Array.isArray(t.shape) || !Array.isArray(t.data)) {
    throw new Error(`${file}: "${key}" must be an object with "shape" and "data" arrays`);
  }
  const shape = t.shape.map(Number);
  if (product(shape) !== t.data.length) {
    throw new Error(`${file}: "${key}" has ${t.data.length} values but shape [${shape}] needs ${product(shape)}`);
  }
  return { shape, data: Float32Array.from(t.data as number[]) };
}

function readTensorMap(file: string, key: string, raw: unknown): Record<string, ReferenceTensor> {
  const out: Record<string, ReferenceTensor> = {};
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return out;
  if (typeof raw !== 'object' || raw === null) throw new Error(`${file}: "${key}" must be an object`);
  for (const [name, t] of Object.entries(raw)) out[name] = readTensor(file, `${key}.${name}`, t);
  return out;
}

/** Read a parity fixture (see /work/shared/fixtures/reference-models/README.md for the format). */
export function loadReferenceFixture(path: string): ReferenceFixture {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: cannot read reference fixture: ${(err as Error).message}`);
  }
  const order = json.parameter_order;
  if (!Array.isArray(order)) throw new Error(`${path}: missing "parameter_order" array`);
  const parameters = readTensorMap(path, 'parameters', json.parameters);
  for (const name of order) {
    if (!(String(name) in parameters)) throw new Error(`${path}: "parameter_order" names "${name}" but "parameters" lacks it`);
  }
  return {
    model: String(json.model ?? ''),
    mode: String(json.mode ?? ''),
    parameterOrder: order.map(String),
    parameters,
    buffers: readTensorMap(path, 'buffers', json.buffers),
    input: readTensor(path, 'input', json.input),
    adjacency: readTensor(path, 'adjacency', json.adjacency),
    output: readTensor(path, 'output', json.output),
  };
}

/** The fixture's named_parameters() order with shapes (what a reference bank row is flattened in). */
export function referenceOrderOf(fixture: ReferenceFixture): ReferenceOrder {
  return fixture.parameterOrder.map((name) => ({ name, shape: [...fixture.parameters[name]!.shape] }));
}

/** Row-major [rows, cols] -> [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  if (data.length !== rows * cols) throw new Error(`transpose2d: ${data.length} values for [${rows}, ${cols}]`);
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/**
 * PyTorch Conv2d weight [out, in, 1, K] (or Conv1d [out, in, K]) -> ours [K, in, out], i.e. the
 * im2col matrix [K*in, out] whose row k*in + i matches column k*C + c of temporalIm2col.
 */
export function convWeightRefToOurs(data: Float32Array, refShape: number[]): Float32Array {
  const [out, inC] = refShape as [number, number];
  const K = product(refShape.slice(2));
  if (data.length !== out * inC * K) throw new Error(`convWeightRefToOurs: ${data.length} values for [${refShape}]`);
  const res = new Float32Array(data.length);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inC; i++)
      for (let k = 0; k < K; k++) res[(k * inC + i) * out + o] = data[(o * inC + i) * K + k]!;
  return res;
}

/** Inverse of convWeightRefToOurs; `ourShape` is [K, in, out]. Returns PyTorch order [out, in, 1, K]. */
export function convWeightOursToRef(data: Float32Array, ourShape: number[]): Float32Array {
  const [K, inC, out] = ourShape as [number, number, number];
  if (data.length !== out * inC * K) throw new Error(`convWeightOursToRef: ${data.length} values for [${ourShape}]`);
  const res = new Float32Array(data.length);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inC; i++)
      for (let k = 0; k < K; k++) res[(o * inC + i) * K + k] = data[(k * inC + i) * out + o]!;
  return res;
}

/** Same data, same order (e.g. STGCN's Theta [in, out], batch-norm vectors). */
export function identityMap(refName: string, ourName: string): ReferenceMappingEntry {
  return { refName, ourName, toOurs: (d) => Float32Array.from(d), toRef: (d) => Float32Array.from(d) };
}

/** PyTorch Conv2d [out, in, 1, K] <-> our [K, in, out]. */
export function convMap(refName: string, ourName: string): ReferenceMappingEntry {
  return { refName, ourName, toOurs: convWeightRefToOurs, toRef: convWeightOursToRef };
}

/** PyTorch Linear [out, in] <-> our [in, out] (so the forward is x @ W without a transpose). */
export function linearMap(refName: string, ourName: string): ReferenceMappingEntry {
  return {
    refName,
    ourName,
    toOurs: (d, refShape) => transpose2d(d, refShape[0]!, refShape[1]!),
    toRef: (d, ourShape) => transpose2d(d, ourShape[0]!, ourShape[1]!),
  };
}

function checkMapping(layout: ParamLayout, mapping: ReferenceMapping): Map<string, ReferenceMappingEntry> {
  const byRef = new Map<string, ReferenceMappingEntry>();
  const covered = new Set<string>();
  for (const m of mapping) {
    if (byRef.has(m.refName)) throw new Error(`reference mapping for ${layout.modelName}: "${m.refName}" mapped twice`);
    if (!layout.has(m.ourName)) throw new Error(`reference mapping for ${layout.modelName}: no layout entry "${m.ourName}" (for "${m.refName}")`);
    if (covered.has(m.ourName)) throw new Error(`reference mapping for ${layout.modelName}: entry "${m.ourName}" produced twice`);
    byRef.set(m.refName, m);
    covered.add(m.ourName);
  }
  const missing = layout.entries.filter((e) => !covered.has(e.name)).map((e) => e.name);
  if (missing.length) throw new Error(`reference mapping for ${layout.modelName}: entries without a source: ${missing.join(', ')}`);
  return byRef;
}

/** Named reference tensors (e.g. a fixture's `parameters`) -> our flat vector. */
export function fromReferenceParameters(
  layout: ParamLayout,
  mapping: ReferenceMapping,
  parameters: Record<string, ReferenceTensor>,
): Float32Array {
  checkMapping(layout, mapping);
  const flat = new Float32Array(layout.size);
  for (const m of mapping) {
    const t = parameters[m.refName];
    if (!t) throw new Error(`reference parameters lack "${m.refName}" (needed for ${layout.modelName} entry "${m.ourName}")`);
    const e = layout.entry(m.ourName);
    if (t.data.length !== e.size) {
      throw new Error(`reference "${m.refName}" [${t.shape}] has ${t.data.length} values; ${layout.modelName} entry "${m.ourName}" [${e.shape}] needs ${e.size}`);
    }
    flat.set(m.toOurs(t.data, t.shape), e.offset);
  }
  return flat;
}

/** A reference-order flat vector (one ModelParams_*.npy row) -> our flat vector. */
export function fromReferenceFlat(
  layout: ParamLayout,
  mapping: ReferenceMapping,
  refFlat: Float32Array,
  refOrder: ReferenceOrder,
): Float32Array {
  const total = refOrder.reduce((s, r) => s + product(r.shape), 0);
  if (refFlat.length !== total) {
    throw new Error(`reference vector has ${refFlat.length} values; its order (${refOrder.length} tensors) needs ${total}`);
  }
  const parameters: Record<string, ReferenceTensor> = {};
  let offset = 0;
  for (const r of refOrder) {
    const size = product(r.shape);
    parameters[r.name] = { shape: r.shape, data: refFlat.subarray(offset, offset + size) };
    offset += size;
  }
  return fromReferenceParameters(layout, mapping, parameters);
}

/** Our flat vector -> the reference's flattened order (unmapped reference tensors are zeros). */
export function toReferenceFlat(
  layout: ParamLayout,
  mapping: ReferenceMapping,
  ours: Float32Array,
  refOrder: ReferenceOrder,
): Float32Array {
  const byRef = checkMapping(layout, mapping);
  if (ours.length !== layout.size) throw new Error(`parameter vector has ${ours.length} values, layout ${layout.modelName} needs ${layout.size}`);
  const inOrder = new Set(refOrder.map((r) => r.name));
  for (const m of mapping) {
    if (!inOrder.has(m.refName)) throw new Error(`reference order lacks "${m.refName}" (mapped from ${layout.modelName} entry "${m.ourName}")`);
  }
  const total = refOrder.reduce((s, r) => s + product(r.shape), 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const r of refOrder) {
    const size = product(r.shape);
    const m = byRef.get(r.name);
    if (m) {
      const e = layout.entry(m.ourName);
      if (e.size !== size) throw new Error(`reference "${r.name}" [${r.shape}] has ${size} values; entry "${e.name}" [${e.shape}] has ${e.size}`);
      out.set(m.toRef(ours.subarray(e.offset, e.offset + e.size), e.shape), offset);
    }
    offset += size;
  }
  return out;
}
