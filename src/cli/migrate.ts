// `volplane migrate flexvolume`: moves PersistentVolumes of a FlexVolume
// driver to a CSI driver that serves the same volumes, keeping the data
// (seed 004: FlexVolume is being retired in favour of CSI). It talks to the
// API with a kubeconfig, as kubectl does, and to the CSI driver's socket, as
// the external provisioner does. The decisions are in migrate-plan.ts.
//
// Per PV, in this order, each step safe to repeat:
//   1. re-read the PV, its claim's pods and the nodes; refuse if anything
//      uses it (the plan is only as fresh as this read);
//   2. CreateVolume on the CSI driver with `volplane.io/adopt-file`: the
//      driver takes the image file over in place (idempotent by name). If
//      this fails nothing in the API has changed;
//   3. write the old and the new PV to the backup directory;
//   4. set the old PV's reclaim policy to Retain (an update with its
//      resourceVersion, so a PV changed since step 1 is a conflict, not
//      overwritten) — from here on nothing can delete the data;
//   5. delete the old PV (preconditions: uid and resourceVersion), remove
//      the pv-protection / pv-controller finalizers that keep a bound PV
//      alive, and wait until it is gone;
//   6. create the new PV under the same name, with spec.csi and the same
//      claimRef (uid included);
//   7. annotate the claim (volplane.io/volume-migrated-to) and wait until the
//      PV controller reports it Bound to the new PV.
// Between 5 and 6 the PV controller may mark the claim Lost (its volume is
// missing); it binds it again when the PV reappears, because the claim still
// carries volumeName and bind-completed and the new PV's claimRef has the
// claim's uid (syncBoundClaim → bind, as upstream does) — at its next sync of
// the claim, which the annotation of step 7 brings forward. A crash between 5
// and 6 leaves the new PV in the backup directory: `kubectl create -f` it.
//
// A refusal or failure after step 2 but before step 5 (the PV changed under
// us) leaves the file adopted by the CSI driver while the PV still names the
// FlexVolume driver: run the migration again to finish it (CreateVolume
// returns the same volume). Until then neither driver may attach it for the
// other — the CSI driver has no call that forgets a volume without deleting
// its file, so the command never tries to undo the adoption.

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { PersistentVolume, PersistentVolumeClaim } from '../api/core/volume-types.ts';
import type { KubeObject } from '../apimachinery/index.ts';
import { TimeoutError, waitFor } from '../base/index.ts';
import { ApiError, RestClient, resourcePath, resources } from '../client/index.ts';
import { createCsiClient, type ControllerService, type CsiServiceClient } from '../csi/index.ts';
import { defaultDataDir } from './data-dir.ts';
import {
  ANN_CLAIM_MIGRATED_TO,
  MigrationRefusedError,
  REMOVABLE_FINALIZERS,
  TRANSLATIONS,
  findTranslation,
  flexSourceOf,
  planVolumeMigration,
  renderPlan,
  replacementVolume,
  type FlexTranslation,
  type UsageWorld,
  type VolumeMigration,
} from './migrate-plan.ts';

export interface MigrateArguments {
  flexDriver: string;
  csiDriver: string;
  /** PVs to migrate; empty means every PV of flexDriver. */
  pvs: string[];
  dryRun: boolean;
  kubeconfig: string;
  csiEndpoint: string;
  backupDir: string;
  timeoutMs: number;
}

/** Bad `migrate` flags (exit status 2). */
export class MigrateUsageError extends Error {
  override readonly name = 'MigrateUsageError';
}

/** A step of a migration failed after planning; `pv` names the volume, the message says what state it is in. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  readonly pv: string;
  constructor(pv: string, message: string, options?: ErrorOptions) {
    super(`PersistentVolume ${pv}: ${message}`, options);
    this.pv = pv;
  }
}

export function migrateUsage(): string {
  const dataDir = defaultDataDir();
  return `Usage: volplane migrate flexvolume --driver VENDOR/DRIVER --to CSI-DRIVER [flags]

Replaces FlexVolume PersistentVolumes by CSI PersistentVolumes of the same
name that serve the same data; bound claims stay bound. A PV used by a pod
(or still attached or mounted on a node) is refused.

Known translations: ${TRANSLATIONS.map((t) => `${t.flexDriver} -> ${t.csiDriver}`).join(', ')}

Flags:
  --driver NAME         the FlexVolume driver whose PVs move (e.g. volplane/loop)
  --to NAME             the CSI driver that takes them over (e.g. csi.volplane.io)
  --pv NAME             only this PV (repeatable; default: every PV of --driver)
  --dry-run             print what would change, change nothing
  --kubeconfig PATH     admin kubeconfig (default: $KUBECONFIG, else ${join(dataDir, 'kubeconfig')})
  --csi-endpoint URL    the CSI driver's socket (default: unix://${join(dataDir, 'csi', 'csi.sock')})
  --backup-dir DIR      old and new PV manifests are written here (default: ${join(dataDir, 'migrate-backup')})
  --timeout SECONDS     how long to wait for deletion and re-binding per PV (default: 60)
`;
}

/** Parses the flags after `migrate`; throws MigrateUsageError. Returns undefined for --help. */
export function parseMigrateArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): MigrateArguments | undefined {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        driver: { type: 'string' },
        to: { type: 'string' },
        pv: { type: 'string', multiple: true },
        'dry-run': { type: 'boolean' },
        kubeconfig: { type: 'string' },
        'csi-endpoint': { type: 'string' },
        'backup-dir': { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new MigrateUsageError((err as Error).message);
  }
  if (values.help === true) return undefined;
  const [what, ...rest] = positionals;
  if (what !== 'flexvolume') throw new MigrateUsageError(what === undefined ? 'say what to migrate: volplane migrate flexvolume …' : `unknown migration ${JSON.stringify(what)}; only "flexvolume" exists`);
  if (rest.length > 0) throw new MigrateUsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  const flexDriver = values.driver ?? '';
  const csiDriver = values.to ?? '';
  if (flexDriver === '') throw new MigrateUsageError('--driver is required (the FlexVolume driver, e.g. volplane/loop)');
  if (csiDriver === '') throw new MigrateUsageError('--to is required (the CSI driver, e.g. csi.volplane.io)');
  if (findTranslation(flexDriver, csiDriver) === undefined) {
    throw new MigrateUsageError(`no translation from ${flexDriver} to ${csiDriver}; known: ${TRANSLATIONS.map((t) => `${t.flexDriver} -> ${t.csiDriver}`).join(', ')}`);
  }
  const timeout = values.timeout ?? '60';
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1) throw new MigrateUsageError(`--timeout must be a whole number of seconds ≥ 1, got ${JSON.stringify(timeout)}`);
  const dataDir = defaultDataDir(env);
  const kubeconfig = values.kubeconfig ?? (env.KUBECONFIG !== undefined && env.KUBECONFIG !== '' ? env.KUBECONFIG.split(':')[0]! : join(dataDir, 'kubeconfig'));
  return {
    flexDriver,
    csiDriver,
    pvs: values.pv ?? [],
    dryRun: values['dry-run'] === true,
    kubeconfig: resolve(kubeconfig),
    csiEndpoint: values['csi-endpoint'] ?? `unix://${join(dataDir, 'csi', 'csi.sock')}`,
    backupDir: resolve(values['backup-dir'] ?? join(dataDir, 'migrate-backup')),
    timeoutMs: Number(timeout) * 1000,
  };
}

interface List<T> {
  items: T[];
}

/** PVs of the translation's FlexVolume driver (or the named ones), each planned or refused. */
export async function planMigration(
  client: RestClient,
  translation: FlexTranslation,
  pvNames: readonly string[],
): Promise<{ plans: VolumeMigration[]; refusals: MigrationRefusedError[] }> {
  const all = (await client.get<List<PersistentVolume>>(resourcePath(resources.persistentVolumes))).items;
  const world = await readUsageWorld(client);
  const plans: VolumeMigration[] = [];
  const refusals: MigrationRefusedError[] = [];
  let chosen: PersistentVolume[];
  if (pvNames.length === 0) {
    chosen = all.filter((pv) => flexSourceOf(pv)?.driver === translation.flexDriver);
  } else {
    chosen = [];
    for (const name of pvNames) {
      const pv = all.find((p) => p.metadata.name === name);
      if (pv === undefined) refusals.push(new MigrationRefusedError(name, 'not found'));
      else chosen.push(pv);
    }
  }
  chosen.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const pv of chosen) {
    try {
      plans.push(planVolumeMigration(pv, translation, world));
    } catch (err) {
      if (!(err instanceof MigrationRefusedError)) throw err;
      refusals.push(err);
    }
  }
  return { plans, refusals };
}

async function readUsageWorld(client: RestClient): Promise<UsageWorld> {
  const [pods, nodes] = await Promise.all([
    client.get<List<KubeObject>>(resourcePath(resources.pods)),
    client.get<List<KubeObject>>(resourcePath(resources.nodes)),
  ]);
  return { pods: pods.items, nodes: nodes.items };
}

export interface MigrateVolumeOptions {
  csi: CsiServiceClient<ControllerService>;
  backupDir: string;
  timeoutMs: number;
  /** Progress, one line at a time. */
  log: (line: string) => void;
}

export interface MigratedVolume {
  pv: PersistentVolume;
  claim?: PersistentVolumeClaim;
}

/** Carries out one planned migration (steps 1–7 above). Throws MigrationRefusedError or MigrationFailedError. */
export async function migrateVolume(client: RestClient, planned: VolumeMigration, options: MigrateVolumeOptions): Promise<MigratedVolume> {
  const name = planned.pvName;
  const pvPath = resourcePath(resources.persistentVolumes, undefined, name);
  const { log } = options;

  // 1. Fresh look: nothing may have started using the volume since planning.
  const current = await getOrUndefined<PersistentVolume>(client, pvPath);
  if (current === undefined) throw new MigrationRefusedError(name, 'was deleted since the plan was made');
  if (current.metadata.uid !== planned.old.metadata.uid) throw new MigrationRefusedError(name, 'was replaced by another object since the plan was made');
  const plan = planVolumeMigration(current, planned.translation, await readUsageWorld(client));

  // 2. The CSI driver takes the file over.
  let volume;
  try {
    volume = (await options.csi.CreateVolume(plan.createVolume)).volume;
  } catch (err) {
    throw new MigrationFailedError(name, `${plan.translation.csiDriver} did not adopt ${plan.file}: ${(err as Error).message}; nothing was changed`, { cause: err });
  }
  const fields = plan.translation.csiFields(volume);
  log(`${name}: ${plan.translation.csiDriver} adopted ${plan.file} as volume ${fields.volumeHandle} (${fields.fsType ?? 'no filesystem yet'})`);
  if (plan.flex.fsType !== undefined && fields.fsType !== undefined && plan.flex.fsType !== fields.fsType) {
    log(`${name}: note: the PV said fsType ${plan.flex.fsType}, the file holds ${fields.fsType}; the new PV says ${fields.fsType}`);
  }
  const replacement = replacementVolume(plan, fields);

  // 3. Backups, before anything in the API changes.
  await mkdir(options.backupDir, { recursive: true, mode: 0o700 });
  const oldFile = join(options.backupDir, `${name}.old.json`);
  const newFile = join(options.backupDir, `${name}.new.json`);
  await writeFile(oldFile, `${JSON.stringify(current, null, 2)}\n`, { mode: 0o600 });
  await writeFile(newFile, `${JSON.stringify(replacement, null, 2)}\n`, { mode: 0o600 });

  // 4. Retain, with the resourceVersion we planned against.
  let retained = current;
  if (current.spec.persistentVolumeReclaimPolicy !== 'Retain') {
    const update = structuredClone(current);
    update.spec.persistentVolumeReclaimPolicy = 'Retain';
    try {
      retained = await client.update<PersistentVolume>(pvPath, update);
    } catch (err) {
      if (err instanceof ApiError && err.code === 409) throw new MigrationRefusedError(name, 'changed while being migrated; run the migration again');
      throw err;
    }
    log(`${name}: reclaim policy Retain`);
  }

  // 5. Delete the old object and let it go.
  try {
    await client.delete(pvPath, {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: retained.metadata.uid, resourceVersion: retained.metadata.resourceVersion },
    });
  } catch (err) {
    if (err instanceof ApiError && err.code === 409) throw new MigrationRefusedError(name, 'changed while being migrated (its reclaim policy is now Retain); run the migration again');
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  }
  try {
    await waitFor(
      `PersistentVolume ${name} to be deleted`,
      async () => {
        const pv = await getOrUndefined<PersistentVolume>(client, pvPath);
        if (pv === undefined || pv.metadata.uid !== current.metadata.uid) return true;
        const finalizers = pv.metadata.finalizers ?? [];
        const kept = finalizers.filter((f) => !REMOVABLE_FINALIZERS.includes(f));
        if (kept.length !== finalizers.length) {
          const update = structuredClone(pv);
          update.metadata.finalizers = kept;
          // A conflict is someone else's write: the next poll tries again.
          await client.update(pvPath, update).catch((err: unknown) => {
            if (!(err instanceof ApiError && (err.code === 409 || err.code === 404))) throw err;
          });
        }
        return false;
      },
      { timeoutMs: options.timeoutMs, intervalMs: 50 },
    );
  } catch (err) {
    if (!(err instanceof TimeoutError)) throw err;
    throw new MigrationFailedError(name, `the old PV did not go away within ${options.timeoutMs / 1000} s (finalizers of another controller?); once it is gone: kubectl create -f ${newFile}`, { cause: err });
  }
  log(`${name}: old PersistentVolume deleted`);

  // 6. The replacement, same name, same claimRef.
  let created: PersistentVolume;
  try {
    created = await client.create<PersistentVolume>(resourcePath(resources.persistentVolumes), replacement);
  } catch (err) {
    throw new MigrationFailedError(name, `creating the CSI PV failed: ${(err as Error).message}; create it with: kubectl create -f ${newFile}`, { cause: err });
  }
  log(`${name}: created as a ${plan.translation.csiDriver} PersistentVolume (volumeHandle ${fields.volumeHandle})`);

  // 7. The claim comes back to it.
  const ref = created.spec.claimRef;
  if (ref === undefined || ref === null || (ref.name ?? '') === '' || (ref.uid ?? '') === '') return { pv: created };
  const claimPath = resourcePath(resources.persistentVolumeClaims, ref.namespace ?? '', ref.name ?? '');
  // The PV controller binds a claim it marked Lost again when it next syncs
  // the claim; a PV appearing does not queue the claim, so without this
  // write the claim would wait for the periodic resync (15 s).
  await client
    .patch(claimPath, { metadata: { annotations: { [ANN_CLAIM_MIGRATED_TO]: plan.translation.csiDriver } } })
    .catch((err: unknown) => {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    });
  let phase = 'unknown';
  try {
    const claim = await waitFor(
      `claim ${ref.namespace ?? ''}/${ref.name ?? ''} to be Bound to ${name}`,
      async () => {
        const c = await getOrUndefined<PersistentVolumeClaim>(client, claimPath);
        phase = c === undefined ? 'gone' : (c.status?.phase ?? 'Pending');
        return c !== undefined && c.metadata.uid === ref.uid && c.spec.volumeName === name && c.status?.phase === 'Bound' ? c : undefined;
      },
      { timeoutMs: options.timeoutMs, intervalMs: 50 },
    );
    const pv = (await getOrUndefined<PersistentVolume>(client, pvPath)) ?? created;
    log(`${name}: claim ${ref.namespace ?? ''}/${ref.name ?? ''} is Bound`);
    return { pv, claim };
  } catch (err) {
    if (!(err instanceof TimeoutError)) throw err;
    throw new MigrationFailedError(
      name,
      `migrated, but claim ${ref.namespace ?? ''}/${ref.name ?? ''} is ${phase}, not Bound, after ${options.timeoutMs / 1000} s (is the PV controller running?)`,
      { cause: err },
    );
  }
}

async function getOrUndefined<T extends KubeObject>(client: RestClient, path: string): Promise<T | undefined> {
  try {
    return await client.get<T>(path);
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}

export interface MigrateIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/**
 * The whole command once the flags are parsed: plan, print, and (unless a
 * dry run) migrate each planned PV. Exit status 0 when every chosen PV was
 * migrated (or, in a dry run, could be), 1 when any was refused or failed.
 */
export async function runMigration(args: MigrateArguments, io: MigrateIo): Promise<number> {
  const translation = findTranslation(args.flexDriver, args.csiDriver)!;
  let client: RestClient;
  try {
    client = RestClient.fromKubeconfig(args.kubeconfig);
  } catch (err) {
    io.err(`volplane migrate: cannot use kubeconfig ${args.kubeconfig}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const { plans, refusals } = await planMigration(client, translation, args.pvs);
    for (const r of refusals) io.err(`refused: ${r.message}\n`);
    if (plans.length === 0) {
      io.out(`No ${translation.flexDriver} PersistentVolumes to migrate${refusals.length > 0 ? ' (see the refusals above)' : ''}.\n`);
      return refusals.length > 0 ? 1 : 0;
    }
    for (const plan of plans) io.out(`${renderPlan(plan)}\n`);
    if (args.dryRun) {
      io.out(`Dry run: nothing was changed; ${plans.length} PersistentVolume${plans.length === 1 ? '' : 's'} would be migrated.\n`);
      return refusals.length > 0 ? 1 : 0;
    }

    const csi = createCsiClient(args.csiEndpoint, { defaultTimeoutMs: 60_000 });
    let failed = refusals.length;
    try {
      let driverName: string;
      try {
        driverName = (await csi.identity.GetPluginInfo({}, { timeoutMs: 10_000 })).name ?? '';
      } catch (err) {
        io.err(`volplane migrate: cannot reach the CSI driver at ${args.csiEndpoint} (--csi-endpoint): ${(err as Error).message}\n`);
        return 1;
      }
      if (driverName !== translation.csiDriver) {
        io.err(`volplane migrate: the driver at ${args.csiEndpoint} is ${driverName}, not ${translation.csiDriver}\n`);
        return 1;
      }
      for (const plan of plans) {
        try {
          await migrateVolume(client, plan, { csi: csi.controller, backupDir: args.backupDir, timeoutMs: args.timeoutMs, log: (line) => io.out(`${line}\n`) });
          io.out(`${plan.pvName}: migrated\n`);
        } catch (err) {
          if (!(err instanceof MigrationRefusedError || err instanceof MigrationFailedError)) throw err;
          io.err(`${err instanceof MigrationRefusedError ? 'refused' : 'failed'}: ${err.message}\n`);
          failed++;
        }
      }
    } finally {
      csi.close();
    }
    return failed > 0 ? 1 : 0;
  } catch (err) {
    if (!(err instanceof ApiError) && !hasNetworkCode(err)) throw err;
    io.err(`volplane migrate: the API server said: ${(err as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

function hasNetworkCode(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(ECONNREFUSED|ENOTFOUND|ECONNRESET|EHOSTUNREACH|ETIMEDOUT|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/.test(code);
}

/** `volplane migrate …`: returns the exit status. */
export async function runMigrateCommand(argv: readonly string[]): Promise<number> {
  let args: MigrateArguments | undefined;
  try {
    args = parseMigrateArgs(argv);
  } catch (err) {
    if (!(err instanceof MigrateUsageError)) throw err;
    process.stderr.write(`volplane migrate: ${err.message}\nRun "volplane migrate --help" for usage.\n`);
    return 2;
  }
  if (args === undefined) {
    process.stdout.write(migrateUsage());
    return 0;
  }
  return runMigration(args, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
}
