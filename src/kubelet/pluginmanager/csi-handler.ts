// The handler for plugins of type "CSIPlugin" (upstream's RegistrationHandler
// in pkg/volume/csi/csi_plugin.go): checks the CSI versions a driver offers,
// records the driver in the node's CsiDriverRegistry (where the CSI volume
// plugin finds its endpoint), asks the driver NodeGetInfo and has the node
// info manager write the CSINode entry, the Node's topology labels and the
// node ID annotation. A driver that fails any step is removed from the
// registry again, so no half-registered driver stays usable.
import { socketPath as endpointPath, createCsiClient, type CsiClient } from '../../csi/index.ts';
import { toError, type Logger } from '../../base/index.ts';
import type { NodeInfoManager } from './node-info-manager.ts';
import type { PluginHandler } from './types.ts';

/** Where registered drivers go: src/volume/plugins/csi's CsiDriverRegistry has this shape. */
export interface CsiDriverRegistrySink {
  register(driver: { name: string; endpoint: string; versions: readonly string[] }): void;
  unregister(name: string): boolean;
  get(name: string): { versions: readonly string[] } | undefined;
}

/** Upstream's csiTimeout for NodeGetInfo during registration. */
export const CSI_TIMEOUT_MS = 120_000;

export interface CsiRegistrationHandlerOptions {
  registry: CsiDriverRegistrySink;
  nodeInfo: NodeInfoManager;
  logger: Logger;
  nodeGetInfoTimeoutMs?: number;
  /** Tests substitute the driver client; default a gRPC client on the endpoint. */
  connect?: (endpoint: string) => CsiClient;
}

/** A dotted version (upstream's utilversion.ParseGeneric: at least major.minor, optional "v"). */
export interface CsiVersion {
  parts: number[];
  text: string;
}

function parseGeneric(text: string): CsiVersion | undefined {
  const m = /^\s*v?([0-9]+(?:\.[0-9]+)+)/.exec(text);
  if (m === null) return undefined;
  return { parts: m[1].split('.').map(Number), text: m[1] };
}

function lessThan(a: CsiVersion, b: CsiVersion): boolean {
  for (let i = 0; i < Math.max(a.parts.length, b.parts.length); i++) {
    const x = a.parts[i] ?? 0;
    const y = b.parts[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/** The highest 1.x version offered; throws as upstream's highestSupportedVersion. */
export function highestSupportedVersion(versions: readonly string[]): CsiVersion {
  if (versions.length === 0) throw new Error('kubernetes.io/csi: CSI driver reporting empty array for supported versions');
  let highest: CsiVersion | undefined;
  let parseError: string | undefined;
  for (const text of versions) {
    const v = parseGeneric(text);
    if (v === undefined) {
      parseError = `could not parse ${JSON.stringify(text)} as version`;
      continue;
    }
    // CSI 2.x need not be compatible with 1.x: ignored.
    if (v.parts[0] > 1) continue;
    if (highest === undefined || lessThan(highest, v)) highest = v;
  }
  if (highest === undefined) {
    throw new Error(`could not find a highest supported version from versions (${JSON.stringify(versions)}) reported by this driver: ${parseError ?? '<nil>'}`);
  }
  if (highest.parts[0] !== 1) throw new Error(`highest supported version reported by driver is v${highest.text}, must be v1.x`);
  return highest;
}

export class CsiRegistrationHandler implements PluginHandler {
  readonly #o: CsiRegistrationHandlerOptions;
  readonly #logger: Logger;

  constructor(options: CsiRegistrationHandlerOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ component: 'csi-registration' });
  }

  validatePlugin(name: string, endpoint: string, versions: readonly string[]): void {
    this.#logger.info({ driver: name, endpoint, versions }, 'validating a new CSI driver');
    try {
      this.#validateVersions('ValidatePlugin', name, versions);
    } catch (err) {
      throw new Error(`validation failed for CSI Driver ${name} at endpoint ${endpoint}: ${toError(err).message}`, { cause: err });
    }
  }

  async registerPlugin(name: string, endpoint: string, versions: readonly string[], signal: AbortSignal): Promise<void> {
    this.#logger.info({ driver: name, endpoint }, 'registering CSI driver');
    this.#validateVersions('RegisterPlugin', name, versions);
    const path = endpointPath(endpoint);
    this.#o.registry.register({ name, endpoint: path, versions: [...versions] });
    const csi = (this.#o.connect ?? ((e: string) => createCsiClient(e)))(path);
    try {
      const info = await csi.node.NodeGetInfo({}, { timeoutMs: this.#o.nodeGetInfoTimeoutMs ?? CSI_TIMEOUT_MS, signal });
      const topology = info.accessible_topology?.segments ?? {};
      await this.#o.nodeInfo.installCSIDriver(name, info.node_id, Number(info.max_volumes_per_node ?? 0), topology, signal);
    } catch (err) {
      this.#o.registry.unregister(name);
      throw err;
    } finally {
      csi.close();
    }
  }

  async deRegisterPlugin(name: string): Promise<void> {
    this.#logger.info({ driver: name }, 'deregistering CSI driver');
    this.#o.registry.unregister(name);
    try {
      await this.#o.nodeInfo.uninstallCSIDriver(name);
    } catch (err) {
      this.#logger.error({ driver: name, err: toError(err).message }, 'removing the CSI driver from the node info failed');
    }
  }

  #validateVersions(caller: string, name: string, versions: readonly string[]): CsiVersion {
    if (versions.length === 0) {
      throw new Error(`kubernetes.io/csi: ${caller} for CSI driver ${JSON.stringify(name)} failed. Plugin returned an empty list for supported versions`);
    }
    let highest: CsiVersion;
    try {
      highest = highestSupportedVersion(versions);
    } catch (err) {
      throw new Error(
        `kubernetes.io/csi: ${caller} for CSI driver ${JSON.stringify(name)} failed. None of the versions specified ${JSON.stringify(versions)} are supported. err=${toError(err).message}`,
      );
    }
    const existing = this.#o.registry.get(name);
    if (existing !== undefined) {
      let existingHighest: CsiVersion | undefined;
      try {
        existingHighest = highestSupportedVersion(existing.versions);
      } catch {
        existingHighest = undefined;
      }
      if (existingHighest !== undefined && !lessThan(existingHighest, highest)) {
        throw new Error(
          `kubernetes.io/csi: ${caller} for CSI driver ${JSON.stringify(name)} failed. Another driver with the same name is already registered with a higher supported version: ${JSON.stringify(existingHighest.text)}`,
        );
      }
    }
    return highest;
  }
}
