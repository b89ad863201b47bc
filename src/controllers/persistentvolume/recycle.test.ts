// Reclaim policy Recycle, numbered as upstream's recycle_test.go (sets 6 and
// 7). hostPath volumes are real temporary directories scrubbed by the real
// HostRecycler; failures that a directory cannot produce on demand come from
// a recycler wrapper that fails when told to.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PersistentVolume } from '../../api/core/volume-types.ts';
import { waitFor } from '../../base/index.ts';
import { resourcePath, resources } from '../../client/index.ts';
import { HostRecycler, RecycleError, findNfsMount, scrubDirectory, type RecycleResult, type Recycler } from './recycler.ts';
import { runRow, startHarness, type Harness, type Row } from './test-framework.ts';

const BBC = { 'pv.kubernetes.io/bound-by-controller': 'yes' };

/** Fails the first `failures` recycles, then scrubs for real. */
class FlakyRecycler implements Recycler {
  #failures: number;
  readonly #inner = new HostRecycler();
  calls = 0;
  constructor(failures: number) {
    this.#failures = failures;
  }
  canRecycle(pv: PersistentVolume): boolean {
    return this.#inner.canRecycle(pv);
  }
  async recycle(pv: PersistentVolume, signal: AbortSignal): Promise<RecycleResult> {
    this.calls++;
    if (this.#failures > 0) {
      this.#failures--;
      throw new RecycleError(pv.metadata.name ?? '', 'Mock recycle error');
    }
    return this.#inner.recycle(pv, signal);
  }
}

/** A volume directory with ordinary, hidden and `..x`-style entries, as the recycler pod's globs cover. */
async function fillVolume(dir: string): Promise<void> {
  await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
  await writeFile(join(dir, 'file'), 'data');
  await writeFile(join(dir, '.hidden'), 'data');
  await writeFile(join(dir, '..dotdot'), 'data');
  await writeFile(join(dir, 'sub', 'deeper', 'f'), 'data');
}

describe('PV controller: reclaim policy Recycle (recycle_test.go scenarios)', () => {
  let h: Harness;
  // Made now: the rows below name directories inside it.
  const dir = mkdtempSync(join(tmpdir(), 'volplane-recycle-'));
  const volumeDir = (name: string): string => join(dir, name);

  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  const hostPath = (name: string): { hostPath: { path: string } } => ({ hostPath: { path: volumeDir(name) } });

  const rows = (): Row[] => [
    {
      name: '6-1 successful recycle',
      volumes: [{ name: 'volume6-1', claim: 'claim6-1', uid: 'other', phase: 'Bound', policy: 'Recycle', ann: BBC, source: hostPath('volume6-1') }],
      expectedVolumes: [{ name: 'volume6-1', phase: 'Available' }],
      expectedClaims: [],
      events: ['Normal VolumeRecycled'],
      check: async () => {
        assert.deepEqual(await readdir(volumeDir('volume6-1')), [], 'every entry scrubbed');
        assert.ok((await stat(volumeDir('volume6-1'))).isDirectory(), 'the volume directory itself stays');
      },
    },
    {
      // Pre-bound by the user: the claim's name stays, its uid goes.
      name: '6-2 successful recycle with prebound volume',
      volumes: [{ name: 'volume6-2', claim: 'claim6-2', uid: 'other', phase: 'Bound', policy: 'Recycle', source: hostPath('volume6-2') }],
      expectedVolumes: [{ name: 'volume6-2', phase: 'Available', claim: 'claim6-2', uid: 'none' }],
      expectedClaims: [],
      events: ['Normal VolumeRecycled'],
      check: async () => assert.deepEqual(await readdir(volumeDir('volume6-2')), []),
    },
    {
      name: '6-3 plugin not found',
      volumes: [
        {
          name: 'volume6-3',
          claim: 'claim6-3',
          uid: 'other',
          phase: 'Bound',
          policy: 'Recycle',
          source: { csi: { driver: 'csi.example.com', volumeHandle: 'h6-3' } },
        },
      ],
      expectedVolumes: [{ name: 'volume6-3', phase: 'Failed', claim: 'claim6-3', uid: 'other', message: 'No recycler plugin found for the volume!' }],
      expectedClaims: [],
      events: ['Warning VolumeFailedRecycle'],
    },
    // 6-4 (newRecycler returns error) has no counterpart: a Recycler is not built per call.
    {
      name: '6-5 recycle returns error',
      volumes: [{ name: 'volume6-5', claim: 'claim6-5', uid: 'other', phase: 'Bound', policy: 'Recycle', source: hostPath('volume6-5-missing') }],
      expectedVolumes: [{ name: 'volume6-5', phase: 'Failed', claim: 'claim6-5', uid: 'other' }],
      expectedClaims: [],
      events: ['Warning VolumeFailedRecycle'],
    },
    // 6-6 and 6-7 inject a change between the sync and the operation; the operation re-reads the volume.
    {
      name: '6-8 prebound volume is deleted while the claim exists',
      volumes: [{ name: 'volume6-8', claim: 'claim6-8', uid: 'other', phase: 'Bound', policy: 'Recycle', ann: BBC, source: hostPath('volume6-8') }],
      claims: [{ name: 'claim6-8', size: '10Gi' }],
      expectedVolumes: [{ name: 'volume6-8', phase: 'Available' }],
      expectedClaims: [{ name: 'claim6-8', phase: 'Pending' }],
      events: ['Normal VolumeRecycled', 'Normal FailedBinding'],
    },
    {
      name: '6-10 volume is used by a pod',
      volumes: [{ name: 'volume6-10', claim: 'claim6-10', uid: 'other', phase: 'Bound', policy: 'Recycle', ann: BBC, source: hostPath('volume6-10') }],
      pods: [{ name: 'pod6-10', claim: 'claim6-10', nodeName: 'node1' }],
      expectedVolumes: [{ name: 'volume6-10', phase: 'Released', claim: 'claim6-10', uid: 'other', ann: BBC }],
      expectedClaims: [],
      events: ['Normal VolumeFailedRecycle'],
      eventMessages: ['Volume is used by pods: pod6-10'],
      check: async () => assert.deepEqual((await readdir(volumeDir('volume6-10'))).sort(), ['..dotdot', '.hidden', 'file', 'sub']),
    },
    {
      name: '7-1 recycle returns error, the controller tries again',
      volumes: [{ name: 'volume7-1', claim: 'claim7-1', uid: 'other', phase: 'Bound', policy: 'Recycle', ann: BBC, source: hostPath('volume7-1') }],
      recycler: new FlakyRecycler(1),
      action: async (w) => {
        // Upstream retries a Failed volume on its next sync (the periodic resync); make one
        // happen. A resync may have retried already (the volume is Available again); the
        // expected events prove the first attempt failed either way.
        const phase = await waitFor('the first recycle to fail', async () => {
          const p = (await w.getVolume('volume7-1'))?.status?.phase;
          return p === 'Failed' || p === 'Available' ? p : undefined;
        }, { timeoutMs: 30_000 });
        if (phase === 'Failed') {
          await w.client.patch(resourcePath(resources.persistentVolumes, undefined, 'volume7-1'), { metadata: { labels: { poke: 'yes' } } });
        }
      },
      expectedVolumes: [{ name: 'volume7-1', phase: 'Available' }],
      expectedClaims: [],
      events: ['Warning VolumeFailedRecycle', 'Normal VolumeRecycled'],
    },
    {
      // Ours: an nfs export that is not mounted here cannot be scrubbed; the volume stays Released.
      name: '7-2 nfs volume not mounted on this machine',
      volumes: [
        { name: 'volume7-2', claim: 'claim7-2', uid: 'other', phase: 'Bound', policy: 'Recycle', ann: BBC, source: { nfs: { server: '192.0.2.1', path: '/export/7-2' } } },
      ],
      expectedVolumes: [{ name: 'volume7-2', phase: 'Released', claim: 'claim7-2', uid: 'other', ann: BBC }],
      expectedClaims: [],
      events: ['Warning RecyclerPod'],
      eventMessages: ['Recycler pod: nfs export 192.0.2.1:/export/7-2 is not mounted on this machine, cannot scrub it'],
    },
  ];

  for (const row of rows()) {
    it(row.name, async () => {
      for (const v of row.volumes ?? []) {
        const path = v.source?.hostPath?.path;
        if (path !== undefined && !path.endsWith('-missing')) {
          await mkdir(path, { recursive: true });
          await fillVolume(path);
        }
      }
      await runRow(h, row);
    });
  }
});

describe('recycler host functions', () => {
  it('scrubDirectory removes every entry, hidden ones included, and keeps the directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-scrub-'));
    try {
      await fillVolume(dir);
      await scrubDirectory(dir);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('HostRecycler refuses to scrub /', async () => {
    const pv: PersistentVolume = { metadata: { name: 'root' }, spec: { hostPath: { path: '/' } } };
    await assert.rejects(new HostRecycler().recycle(pv, new AbortController().signal), RecycleError);
  });

  it('findNfsMount finds an export in mountinfo', () => {
    const mountinfo = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '90 22 0:50 / /mnt/nfs\\040share rw,relatime shared:40 - nfs4 10.0.0.5:/export rw,vers=4.2',
    ].join('\n');
    assert.equal(findNfsMount(mountinfo, '10.0.0.5', '/export'), '/mnt/nfs share');
    assert.equal(findNfsMount(mountinfo, '10.0.0.5', '/export/'), '/mnt/nfs share');
    assert.equal(findNfsMount(mountinfo, '10.0.0.6', '/export'), undefined);
  });
});
