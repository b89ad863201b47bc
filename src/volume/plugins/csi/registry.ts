// The CSI drivers registered on this node: the meeting point of the kubelet's
// plugin watcher (which learns of a driver through its registration socket in
// `<root>/plugins_registry/`, upstream's csi.RegistrationHandler) and the CSI
// volume plugin (which needs the driver's endpoint for every node call).
// Upstream keeps this as the package-level `csiDrivers` map of pkg/volume/csi;
// here it is an object a node owns, so two node agents in one process never
// share drivers.

import type { Disposable } from '../../../base/index.ts';
import { toDisposable } from '../../../base/index.ts';

export interface CsiDriverRegistration {
  /** The driver's name, e.g. `csi.volplane.io`. */
  name: string;
  /** Path of the driver's CSI unix socket. */
  endpoint: string;
  /** The CSI versions the driver said it supports (`1.0.0`, …). */
  versions: readonly string[];
}

export type CsiRegistryEvent = { type: 'registered' | 'unregistered'; driver: CsiDriverRegistration };

export class CsiDriverRegistry {
  readonly #drivers = new Map<string, CsiDriverRegistration>();
  readonly #listeners = new Set<(e: CsiRegistryEvent) => void>();

  /** Adds or replaces the registration of `driver.name`. */
  register(driver: CsiDriverRegistration): void {
    const copy = { ...driver, versions: [...driver.versions] };
    this.#drivers.set(driver.name, copy);
    this.#emit({ type: 'registered', driver: copy });
  }

  /** Forgets `name`; returns whether it was registered. */
  unregister(name: string): boolean {
    const driver = this.#drivers.get(name);
    if (driver === undefined) return false;
    this.#drivers.delete(name);
    this.#emit({ type: 'unregistered', driver });
    return true;
  }

  get(name: string): CsiDriverRegistration | undefined {
    return this.#drivers.get(name);
  }

  /** Registered driver names, sorted. */
  names(): string[] {
    return [...this.#drivers.keys()].sort();
  }

  onDidChange(listener: (e: CsiRegistryEvent) => void): Disposable {
    this.#listeners.add(listener);
    return toDisposable(() => this.#listeners.delete(listener));
  }

  #emit(e: CsiRegistryEvent): void {
    for (const l of [...this.#listeners]) l(e);
  }
}
