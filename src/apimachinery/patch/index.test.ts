import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import * as patch from './index.ts';

describe('patch public API', () => {
  it('exports the engines, the error and the schema lookup', () => {
    for (const name of ['applyMergePatch', 'applyJsonPatch', 'applyStrategicMergePatch', 'patchSchemaFor', 'hasPatchSchema', 'isPatchError']) {
      assert.equal(typeof (patch as Record<string, unknown>)[name], 'function', name);
    }
    const err = new patch.PatchError('apply-failed', 'x');
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'PatchError');
    assert.equal(err.code, 422);
    assert.ok(patch.isPatchError(err));
  });

  it('names the four patch content types', () => {
    assert.deepEqual({ ...patch.PATCH_CONTENT_TYPES }, {
      json: 'application/json-patch+json',
      merge: 'application/merge-patch+json',
      strategic: 'application/strategic-merge-patch+json',
      apply: 'application/apply-patch+yaml',
    });
    assert.ok(Object.isFrozen(patch.PATCH_CONTENT_TYPES));
  });
});
