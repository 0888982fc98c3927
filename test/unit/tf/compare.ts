/**
 * Helpers for tests that run the same computation on TensorFlow's native backend and on tfjs's pure-JS
 * `cpu` backend: deterministic inputs, a backend loader that fails loudly when native is missing, and a
 * closeness check with a relative tolerance.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadTf, resolveBackendPreference, type TfRuntime } from '../../../src/tf/backend';

/** Deterministic uniform numbers in [-1, 1) (mulberry32). */
export function randomValues(count: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export interface Backends {
  runtime: TfRuntime;
  /** The backend compared against the pure-JS one: `tensorflow`, or `cpu` when ECGFLOW_TF_BACKEND=js. */
  reference: 'tensorflow' | 'cpu';
  nativeAvailable: boolean;
}

/**
 * Load the native backend, or fail with a message that says how to get it. Only an explicit
 * ECGFLOW_TF_BACKEND=js turns the comparison into pure JS against pure JS (the checks against hand-written
 * reference implementations still run then).
 */
export async function requireNativeUnlessJs(): Promise<Backends> {
  const preference = resolveBackendPreference();
  if (preference === 'js') {
    const runtime = await loadTf({ prefer: 'js' });
    return { runtime, reference: 'cpu', nativeAvailable: false };
  }
  let runtime: TfRuntime;
  try {
    runtime = await loadTf({ prefer: preference === 'auto' ? 'native' : preference });
  } catch (err) {
    assert.fail(
      `the native TensorFlow backend does not load in this test process, so native ops cannot be checked ` +
        `against pure JS.\n${(err as Error).message}\n` +
        'Fix it with `node scripts/native-tf/setup.js`, or set ECGFLOW_TF_BACKEND=js to test pure JS on purpose.',
    );
  }
  return { runtime, reference: 'tensorflow', nativeAvailable: true };
}

/** Run `fn` on each backend in turn and return the values of the tensors it returns. */
export async function onBackends(
  names: readonly string[],
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<Map<string, Float32Array[]>> {
  const results = new Map<string, Float32Array[]>();
  const previous = tf.getBackend();
  for (const name of names) {
    await tf.setBackend(name);
    const out = tf.tidy(() => {
      const r = fn();
      return Array.isArray(r) ? r : [r];
    });
    results.set(
      name,
      out.map((t) => Float32Array.from(t.dataSync())),
    );
    tf.dispose(out);
  }
  await tf.setBackend(previous);
  return results;
}

/**
 * |actual - expected| <= rTol * max(|expected|) + aTol, element-wise: a tolerance relative to the scale of
 * the whole tensor, so that values that cancel to nearly zero do not demand an impossible precision.
 */
export function assertClose(
  actual: Float32Array,
  expected: Float32Array,
  what: string,
  rTol = 1e-4,
  aTol = 1e-6,
): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: ${actual.length} values, expected ${expected.length}`,
  );
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) {
      worst = d;
      worstAt = i;
    }
  }
  const limit = rTol * scale + aTol;
  assert.ok(
    worst <= limit,
    `${what}: max |difference| ${worst.toExponential(3)} at index ${worstAt} ` +
      `(${actual[worstAt]} vs ${expected[worstAt]}) exceeds ${limit.toExponential(3)} (rTol ${rTol} of scale ${scale.toExponential(3)})`,
  );
}

/** Compare every output of `fn` between the reference backend and pure JS. */
export async function assertSameOnBackends(
  backends: Backends,
  what: string,
  fn: () => tf.Tensor | tf.Tensor[],
  rTol = 1e-4,
): Promise<Float32Array[]> {
  const names = backends.reference === 'cpu' ? ['cpu'] : ['tensorflow', 'cpu'];
  const results = await onBackends(names, fn);
  const ref = results.get(names[0]) as Float32Array[];
  const js = results.get('cpu') as Float32Array[];
  assert.equal(ref.length, js.length, `${what}: different number of outputs`);
  ref.forEach((values, i) => assertClose(values, js[i], `${what} (output ${i}, ${names[0]} vs cpu)`, rTol));
  return js;
}
