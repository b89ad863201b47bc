import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../../apimachinery/index.ts';
import { deepCopy } from '../../apimachinery/index.ts';
import { create, mustCreate, row, update, updateStatus } from './resource-harness.ts';
import { volumeAttachmentDef as vaDef } from './volume-attachment.ts';

const NOW = new Date('2024-05-01T10:00:00Z');
const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

function va(name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  const obj: KubeObject = { metadata: { name }, spec };
  if (status !== undefined) obj.status = status;
  return obj;
}

const attachPV = { attacher: 'hostpath.csi.volplane.io', source: { persistentVolumeName: 'pv-1' }, nodeName: 'node-1' };

describe('VolumeAttachment: create and table', () => {
  it('1-1 a valid attachment starts unattached, whatever the client sent', () => {
    const { obj, message } = create(vaDef, va('csi-abc', attachPV, { attached: true, attachmentMetadata: { a: 'b' } }));
    assert.equal(message, '');
    assert.deepEqual(obj.status, { attached: false });
  });

  it('1-2 the row shows attacher, PV, node and a boolean ATTACHED', () => {
    const stored = mustCreate(vaDef, va('csi-abc', attachPV));
    const attached = updateStatus(vaDef, stored, { ...stored, status: { attached: true } });
    assert.equal(attached.message, '');
    attached.obj.metadata.creationTimestamp = '2024-05-01T09:59:30Z';
    assert.deepEqual(row(vaDef, attached.obj, NOW), {
      Name: 'csi-abc',
      Attacher: 'hostpath.csi.volplane.io',
      PV: 'pv-1',
      Node: 'node-1',
      Attached: true,
      Age: '30s',
    });
    assert.equal(vaDef.table.columns[1].format, 'name');
  });

  it('1-3 an inline (migrated) volume prints an empty PV', () => {
    const inline = va('csi-inline', {
      attacher: 'ebs.csi.aws.com',
      nodeName: 'node-1',
      source: { inlineVolumeSpec: { accessModes: ['ReadWriteOnce'], csi: { driver: 'ebs.csi.aws.com', volumeHandle: 'vol-1' } } },
    });
    assert.equal(create(vaDef, inline).message, '');
    assert.deepEqual(vaDef.table.row(inline, NOW).slice(0, 5), ['csi-inline', 'ebs.csi.aws.com', '', 'node-1', false]);
  });
});

describe('VolumeAttachment: invalid creates', () => {
  const rows: Array<[string, KubeObject, string]> = [
    [
      '2-1 an empty spec: attacher, source and node name',
      va('x', {}),
      'VolumeAttachment.storage.k8s.io "x" is invalid: [spec.attacher: Required value, ' +
        'spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName, ' +
        `spec.nodeName: Invalid value: "": ${SUBDOMAIN_MESSAGE}, spec.attacher: Invalid value: "": ${SUBDOMAIN_MESSAGE}]`,
    ],
    [
      '2-2 both sources',
      va('x', { ...attachPV, source: { persistentVolumeName: 'pv', inlineVolumeSpec: {} } }),
      'VolumeAttachment.storage.k8s.io "x" is invalid: spec.source: Forbidden: must specify exactly one of inlineVolumeSpec and persistentVolumeName',
    ],
    [
      '2-3 an empty PV name',
      va('x', { ...attachPV, source: { persistentVolumeName: '' } }),
      'VolumeAttachment.storage.k8s.io "x" is invalid: [spec.source.persistentVolumeName: Required value: must specify non empty persistentVolumeName, ' +
        `spec.source.persistentVolumeName: Invalid value: "": ${SUBDOMAIN_MESSAGE}]`,
    ],
    [
      '2-4 an attacher longer than a CSI driver name may be',
      va('x', { ...attachPV, attacher: `${'a'.repeat(60)}.example.com` }),
      'VolumeAttachment.storage.k8s.io "x" is invalid: spec.attacher: Too long: must have at most 63 bytes',
    ],
    [
      '2-5 an inline spec must be CSI and carry no capacity',
      va('x', { ...attachPV, source: { inlineVolumeSpec: { accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' }, hostPath: { path: '/a' } } } }),
      'VolumeAttachment.storage.k8s.io "x" is invalid: [spec.source.inlineVolumeSpec.capacity: Forbidden: may not be specified in the context of inline volumes, ' +
        'spec.source.inlineVolumeSpec.csi: Required value: has to be specified in the context of inline volumes]',
    ],
  ];
  for (const [name, obj, message] of rows) {
    it(name, () => assert.equal(create(vaDef, obj).message, message));
  }
});

describe('VolumeAttachment: updates and status', () => {
  const stored = mustCreate(vaDef, va('csi-abc', attachPV));

  it('3-1 the spec is immutable', () => {
    const desired = deepCopy(stored);
    (desired.spec as { nodeName: string }).nodeName = 'node-2';
    const { message } = update(vaDef, stored, desired);
    assert.match(message, /^VolumeAttachment\.storage\.k8s\.io "csi-abc" is invalid: spec: Invalid value: \{.*"nodeName":"node-2".*\}: field is immutable$/);
  });

  it('3-2 metadata may change and the status is kept on a main write', () => {
    const attached = updateStatus(vaDef, stored, { ...stored, status: { attached: true } }).obj;
    const desired = { ...deepCopy(attached), status: { attached: false } };
    desired.metadata.finalizers = ['external-attacher/hostpath-csi-volplane-io'];
    const r = update(vaDef, attached, desired);
    assert.equal(r.message, '');
    assert.deepEqual(r.obj.status, { attached: true });
  });

  it('3-3 a status write keeps the spec and fills attached', () => {
    const r = updateStatus(vaDef, stored, { ...stored, spec: {}, status: { attachError: { message: 'boom', time: '2024-05-01T10:00:00Z' } } });
    assert.equal(r.message, '');
    assert.deepEqual(r.obj.spec, stored.spec);
    assert.deepEqual(r.obj.status, { attachError: { message: 'boom', time: '2024-05-01T10:00:00Z' }, attached: false });
  });

  it('3-4 an over-long error message is refused (with the limit upstream prints)', () => {
    const r = updateStatus(vaDef, stored, { ...stored, status: { attached: false, detachError: { message: 'x'.repeat(1025) } } });
    assert.equal(r.message, 'VolumeAttachment.storage.k8s.io "csi-abc" is invalid: status.detachError.message: Too long: must have at most 262144 bytes');
  });
});
