import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../../src/errors';
import { loadTf, resolveBackendPreference, runtimeSummary, TfBackendError } from '../../../src/tf/backend';

describe('backend preference', () => {
  test('flag, then ECGFLOW_TF_BACKEND, then auto; case-insensitive; anything else refused', () => {
    assert.equal(resolveBackendPreference(undefined, {}), 'auto');
    assert.equal(resolveBackendPreference(undefined, { ECGFLOW_TF_BACKEND: 'JS' }), 'js');
    assert.equal(resolveBackendPreference('native', { ECGFLOW_TF_BACKEND: 'js' }), 'native');
    assert.equal(resolveBackendPreference(undefined, { ECGFLOW_TF_BACKEND: '' }), 'auto');
    assert.throws(() => resolveBackendPreference('wasm', {}), ConfigError);
  });
});

describe('loadTf', () => {
  test('reports the backend that is actually active, with version and threads', async () => {
    const preference = resolveBackendPreference();
    const rt = await loadTf({ prefer: preference, warn: () => undefined });
    assert.equal(tf.getBackend(), rt.native ? 'tensorflow' : 'cpu');
    if (rt.native) {
      assert.match(rt.tfVersion, /^\d+\.\d+\.\d+/);
      assert.ok(rt.threads >= 1 && rt.interOpThreads >= 1);
      assert.ok(rt.backend === 'tensorflow' || rt.backend === 'tensorflow-gpu');
    } else {
      assert.equal(rt.backend, 'cpu');
      assert.equal(rt.tfVersion, 'none');
      assert.equal(rt.threads, 1);
    }
    assert.equal(rt.tfjsVersion, tf.version.tfjs);
    assert.deepEqual(Object.keys(runtimeSummary(rt)).sort(), [
      'backend',
      'interOpThreads',
      'native',
      'tfVersion',
      'tfjsVersion',
      'threads',
    ]);

    // The first load decides for the process; asking again returns the same runtime.
    assert.equal(await loadTf({ prefer: preference }), rt);
    if (!rt.native) await assert.rejects(loadTf({ prefer: 'native' }), TfBackendError);
    if (rt.backend === 'tensorflow') await assert.rejects(loadTf({ prefer: 'gpu' }), TfBackendError);
  });
});
