import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeDepths } from '../../../src/cli/training';

describe('describeDepths', () => {
  it('prints the growth range of an adaptive run', () => {
    assert.equal(describeDepths({ mode: 'adaptive', depths: [20, 74], finalDepth: 74 }), '20 -> 74');
    assert.equal(describeDepths({ mode: 'adaptive', depths: [20, 74], finalDepth: 74 }, '->'), '20->74');
  });

  it('prints only the final depth of a vanilla run, which never trains at the initial one', () => {
    assert.equal(describeDepths({ mode: 'vanilla', depths: [20, 74], finalDepth: 74 }), '74');
    assert.equal(describeDepths({ mode: 'vanilla', depths: [20, 74], finalDepth: 74 }, '->'), '74');
  });
});
