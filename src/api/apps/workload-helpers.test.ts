import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matches } from '../../apimachinery/index.ts';
import { canonicalJson, computeTemplateHash, workloadSelector } from './workload-helpers.ts';

describe('workloadSelector', () => {
  it('1 parses spec.selector', () => {
    const sel = workloadSelector({ spec: { selector: { matchLabels: { app: 'web' } } } });
    assert.ok(sel !== undefined);
    assert.equal(matches(sel, { app: 'web', tier: 'x' }), true);
    assert.equal(matches(sel, { app: 'db' }), false);
  });
  it('2 an invalid selector is undefined, not an exception', () => {
    assert.equal(workloadSelector({ spec: { selector: { matchExpressions: [{ key: 'app', operator: 'Nonsense', values: ['x'] }] } } }), undefined);
  });
});

describe('computeTemplateHash', () => {
  const t = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
  it('1 canonical JSON sorts keys and drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: undefined, c: 'x' }] }), '{"a":[{"c":"x"}],"b":1}');
  });
  it('2 stable across key order, differs by template and by collision count (absent differs from 0), safe alphabet only', () => {
    const reordered = { spec: { containers: [{ image: 'nginx', name: 'c' }] }, metadata: { labels: { app: 'web' } } };
    assert.equal(computeTemplateHash(t), computeTemplateHash(reordered));
    assert.notEqual(computeTemplateHash(t), computeTemplateHash({ ...t, spec: { containers: [{ name: 'c', image: 'httpd' }] } }));
    assert.notEqual(computeTemplateHash(t), computeTemplateHash(t, 0));
    assert.notEqual(computeTemplateHash(t, 0), computeTemplateHash(t, 1));
    assert.match(computeTemplateHash(t, 3), /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });
});
