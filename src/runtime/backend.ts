/**
 * The one place that picks the tensor engine.
 *
 * Default: the WebAssembly backend (installs from npm everywhere, no native binary download).
 * If the user has installed `@tensorflow/tfjs-node` it is used automatically (faster native
 * kernels); `GPD_BACKEND=wasm|cpu|tensorflow` overrides the choice.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ConfigError, quoteText } from '../util/errors.js';

export type BackendName = 'wasm' | 'cpu' | 'tensorflow';

let ready: Promise<BackendName> | null = null;

async function tryLoadTfjsNode(): Promise<boolean> {
  try {
    // Optional dependency: a plain string variable keeps TypeScript from requiring its types.
    const name = '@tensorflow/tfjs-node';
    await import(name);
    return tf.findBackend('tensorflow') !== null || tf.engine().registryFactory['tensorflow'] !== undefined;
  } catch {
    return false;
  }
}

async function pick(): Promise<BackendName> {
  const requested = process.env.GPD_BACKEND?.trim();
  if (requested) {
    if (!['wasm', 'cpu', 'tensorflow'].includes(requested)) {
      throw new ConfigError(`GPD_BACKEND must be one of wasm, cpu, tensorflow; got ${quoteText(requested)}`);
    }
    if (requested === 'tensorflow' && !(await tryLoadTfjsNode())) {
      throw new ConfigError('GPD_BACKEND=tensorflow but @tensorflow/tfjs-node is not installed (npm i @tensorflow/tfjs-node)');
    }
    if (!(await tf.setBackend(requested))) throw new Error(`could not initialise tfjs backend "${requested}"`);
    await tf.ready();
    return requested as BackendName;
  }
  if (await tryLoadTfjsNode()) {
    if (await tf.setBackend('tensorflow')) {
      await tf.ready();
      return 'tensorflow';
    }
  }
  if (await tf.setBackend('wasm')) {
    await tf.ready();
    return 'wasm';
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return 'cpu';
}

/** Initialise the backend once per process (idempotent); resolves to the backend's name. */
export function initBackend(): Promise<BackendName> {
  if (!ready) ready = pick();
  return ready;
}

/** Switch explicitly (tests comparing backends). */
export async function useBackend(name: BackendName): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`could not initialise tfjs backend "${name}"`);
  await tf.ready();
}

export { tf };
