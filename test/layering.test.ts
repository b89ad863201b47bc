// The dependency rules of design.md, checked over every import in src/.
//
//   base ← apimachinery ← api ← storage ← apiserver
//   apimachinery/api ← client ← controllers, scheduler, kubelet, csi sidecars
//   volume is used by controllers and kubelet; drivers use only base and csi;
//   cli sits on top; testing may import anything.
//
// Each rule is one row: which importing files it governs and which imported
// folders it refuses. Test files (*.test.ts, and test-framework.ts scaffolding shared
// by a component's tests) are exempt: a test may reach for
// whatever it needs to build its world (usually through src/testing).
// Not enforced yet: importing another folder's internals instead of its index.ts.
// Each rule also carries an import it must refuse and one it must allow, so a
// rule that can no longer fail, or that refuses everything, is itself a failure.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { glob, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

const LAYERS = [
  'base',
  'apimachinery',
  'api',
  'storage',
  'apiserver',
  'client',
  'controllers',
  'scheduler',
  'kubelet',
  'volume',
  'csi',
  'drivers',
  'testing',
  'cli',
] as const;
type Layer = (typeof LAYERS)[number];

/** One import of one file, by paths relative to src/ (e.g. `apiserver/server.ts` → `storage/index.ts`). */
interface Edge {
  from: string;
  to: string;
}

interface Rule {
  name: string;
  /** Whether this rule governs the importing file. */
  appliesTo(from: string): boolean;
  /** Whether `from` importing `to` breaks the rule. */
  forbids(to: string, from: string): boolean;
  /** An import the rule must refuse (proof that the row can fail). */
  mustRefuse: Edge;
  /** An import the rule must let through (proof that the row is not too broad). */
  mustAllow: Edge;
}

const layerOf = (path: string): string => path.split('/')[0]!;
const inLayers =
  (...layers: Layer[]) =>
  (path: string): boolean =>
    layers.includes(layerOf(path) as Layer);
const outside =
  (...allowed: Layer[]) =>
  (path: string): boolean =>
    !allowed.includes(layerOf(path) as Layer);
const isSidecar = (path: string): boolean => path.startsWith('csi/sidecars/');
/** The component a file belongs to: controllers, scheduler, kubelet or the CSI sidecars (API clients that run on their own). */
const componentOf = (path: string): string | undefined =>
  isSidecar(path) ? 'csi/sidecars' : inLayers('controllers', 'scheduler', 'kubelet')(path) ? layerOf(path) : undefined;

const RULES: Rule[] = [
  {
    name: 'base imports nothing of ours',
    appliesTo: inLayers('base'),
    forbids: outside('base'),
    mustRefuse: { from: 'base/log.ts', to: 'apimachinery/index.ts' },
    mustAllow: { from: 'base/log.ts', to: 'base/errors.ts' },
  },
  {
    name: 'apimachinery imports only base',
    appliesTo: inLayers('apimachinery'),
    forbids: outside('base', 'apimachinery'),
    mustRefuse: { from: 'apimachinery/types.ts', to: 'api/index.ts' },
    mustAllow: { from: 'apimachinery/types.ts', to: 'base/index.ts' },
  },
  {
    name: 'api imports only base and apimachinery',
    appliesTo: inLayers('api'),
    forbids: outside('base', 'apimachinery', 'api'),
    mustRefuse: { from: 'api/resource.ts', to: 'storage/index.ts' },
    mustAllow: { from: 'api/resource.ts', to: 'apimachinery/index.ts' },
  },
  {
    name: 'storage imports only base, apimachinery and api',
    appliesTo: inLayers('storage'),
    forbids: outside('base', 'apimachinery', 'api', 'storage'),
    mustRefuse: { from: 'storage/cacher.ts', to: 'apiserver/index.ts' },
    mustAllow: { from: 'storage/cacher.ts', to: 'api/index.ts' },
  },
  {
    name: 'apiserver imports only base, apimachinery, api and storage',
    appliesTo: inLayers('apiserver'),
    forbids: outside('base', 'apimachinery', 'api', 'storage', 'apiserver'),
    mustRefuse: { from: 'apiserver/server.ts', to: 'client/index.ts' },
    mustAllow: { from: 'apiserver/server.ts', to: 'storage/index.ts' },
  },
  {
    name: 'client imports only base, apimachinery and api',
    appliesTo: inLayers('client'),
    forbids: outside('base', 'apimachinery', 'api', 'client'),
    mustRefuse: { from: 'client/informer.ts', to: 'storage/index.ts' },
    mustAllow: { from: 'client/informer.ts', to: 'api/index.ts' },
  },
  {
    name: 'no component (controllers, scheduler, kubelet, csi) imports storage or apiserver',
    appliesTo: inLayers('controllers', 'scheduler', 'kubelet', 'csi'),
    forbids: inLayers('storage', 'apiserver'),
    mustRefuse: { from: 'controllers/persistentvolume/pv-controller.ts', to: 'storage/index.ts' },
    mustAllow: { from: 'controllers/persistentvolume/pv-controller.ts', to: 'client/index.ts' },
  },
  {
    name: 'components never import each other (what they share lives in api/)',
    appliesTo: (from) => componentOf(from) !== undefined,
    forbids: (to, from) => componentOf(to) !== undefined && componentOf(to) !== componentOf(from),
    mustRefuse: { from: 'scheduler/scheduler.ts', to: 'controllers/persistentvolume/index.ts' },
    mustAllow: { from: 'controllers/attachdetach/reconciler.ts', to: 'controllers/attachdetach/index.ts' },
  },
  {
    name: 'controllers, scheduler and kubelet reach CSI drivers only through volume (never a sidecar)',
    appliesTo: inLayers('controllers', 'scheduler', 'kubelet'),
    forbids: isSidecar,
    mustRefuse: { from: 'kubelet/kubelet.ts', to: 'csi/sidecars/provisioner.ts' },
    mustAllow: { from: 'kubelet/kubelet.ts', to: 'volume/index.ts' },
  },
  {
    name: 'volume is used only by controllers and kubelet',
    appliesTo: outside('volume', 'controllers', 'kubelet', 'cli', 'testing'),
    forbids: inLayers('volume'),
    mustRefuse: { from: 'scheduler/volume-binding.ts', to: 'volume/index.ts' },
    mustAllow: { from: 'kubelet/volumemanager/reconciler.ts', to: 'volume/index.ts' },
  },
  {
    name: 'volume imports no component',
    appliesTo: inLayers('volume'),
    forbids: (to) => inLayers('storage', 'apiserver', 'controllers', 'scheduler', 'kubelet', 'drivers', 'cli', 'testing')(to) || isSidecar(to),
    mustRefuse: { from: 'volume/plugins/csi/csi-plugin.ts', to: 'kubelet/index.ts' },
    mustAllow: { from: 'volume/plugins/csi/csi-plugin.ts', to: 'csi/index.ts' },
  },
  {
    name: 'drivers use only base and csi',
    appliesTo: inLayers('drivers'),
    forbids: (to) => outside('base', 'csi', 'drivers')(to) || isSidecar(to),
    mustRefuse: { from: 'drivers/hostpath/controller-server.ts', to: 'api/index.ts' },
    mustAllow: { from: 'drivers/hostpath/controller-server.ts', to: 'csi/index.ts' },
  },
  {
    name: 'nothing but cli and testing imports cli',
    appliesTo: outside('cli', 'testing'),
    forbids: inLayers('cli'),
    mustRefuse: { from: 'apiserver/server.ts', to: 'cli/up.ts' },
    mustAllow: { from: 'testing/cluster.ts', to: 'cli/up.ts' },
  },
  {
    name: 'nothing but testing imports testing',
    appliesTo: outside('testing'),
    forbids: inLayers('testing'),
    mustRefuse: { from: 'cli/up.ts', to: 'testing/index.ts' },
    mustAllow: { from: 'testing/index.ts', to: 'testing/cluster.ts' },
  },
];

/** Every relative import of every non-test file under src/, resolved to a path relative to src/. */
async function importsInSrc(): Promise<{ edges: Edge[]; files: string[] }> {
  const files: string[] = [];
  for await (const file of glob('**/*.{ts,mts,js,mjs}', { cwd: SRC })) files.push(file.split(sep).join('/'));
  files.sort();
  const edges: Edge[] = [];
  for (const from of files) {
    // Tests, and the scaffolding a component's tests share (test-framework.ts), are exempt.
    if (/\.test\.[mc]?[tj]s$/.test(from) || /(^|\/)test-framework\.ts$/.test(from)) continue;
    const text = await readFile(join(SRC, from), 'utf8');
    // The compiler's own scanner: static imports, re-exports, `import type`, import() and require().
    const { importedFiles } = ts.preProcessFile(text, true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (!specifier.startsWith('.')) continue; // packages and node: builtins
      const target = relative(SRC, resolve(SRC, dirname(from), specifier)).split(sep).join('/');
      if (target.startsWith('..')) {
        edges.push({ from, to: `(outside src) ${specifier}` });
        continue;
      }
      edges.push({ from, to: target });
    }
  }
  return { edges, files };
}

function violations(rule: Rule, edges: readonly Edge[]): string[] {
  return edges.filter((e) => rule.appliesTo(e.from) && rule.forbids(e.to, e.from)).map((e) => `src/${e.from} → src/${e.to}`);
}

test('layering', async (t) => {
  const { edges, files } = await importsInSrc();

  await t.test('the scan finds the imports (it would see a violation)', () => {
    assert.ok(
      edges.some((e) => e.from.startsWith('apiserver/') && e.to.startsWith('storage/')),
      'expected to see apiserver importing storage',
    );
  });

  await t.test('every file lives in a known layer folder', () => {
    const strays = files.filter((f) => !LAYERS.includes(layerOf(f) as Layer) || !f.includes('/'));
    assert.deepEqual(strays, [], `files outside the layers of design.md (add the folder to LAYERS and RULES): ${strays.join(', ')}`);
  });

  await t.test('no import leaves src/', () => {
    const out = edges.filter((e) => e.to.startsWith('(outside src)')).map((e) => `src/${e.from} → ${e.to}`);
    assert.deepEqual(out, []);
  });

  for (const rule of RULES) {
    await t.test(rule.name, () => {
      assert.equal(violations(rule, [rule.mustRefuse]).length, 1, `the rule lets through ${JSON.stringify(rule.mustRefuse)}`);
      assert.deepEqual(violations(rule, [rule.mustAllow]), [], `the rule refuses ${JSON.stringify(rule.mustAllow)}`);
      const found = violations(rule, edges);
      assert.deepEqual(found, [], `${rule.name}:\n  ${found.join('\n  ')}`);
    });
  }
});
