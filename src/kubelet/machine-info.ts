// What the node reports about the machine it runs on (upstream: cadvisor's
// MachineInfo plus the kubelet's os-release and uname reads). The only module
// of the kubelet that reads host files; everything it returns is plain data,
// so node status can be computed and tested without a machine.

import { availableParallelism, arch, hostname, networkInterfaces, release, totalmem } from 'node:os';
import { readFile, statfs } from 'node:fs/promises';

export interface MachineInfo {
  hostname: string;
  /** `amd64`, `arm64`… (GOARCH spelling, as the `kubernetes.io/arch` label wants it). */
  architecture: string;
  operatingSystem: 'linux';
  osImage: string;
  kernelVersion: string;
  machineID: string;
  systemUUID: string;
  bootID: string;
  cpus: number;
  memoryBytes: number;
  /** Size of the file system holding the kubelet root. */
  ephemeralStorageBytes: number;
  /** The first non-loopback IPv4 address, else 127.0.0.1. */
  internalIP: string;
}

/** Node's process.arch in Go's GOARCH spelling. */
export function goArch(nodeArch: string = arch()): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'ppc64':
      return 'ppc64le';
    default:
      return nodeArch;
  }
}

/** PRETTY_NAME from an os-release file's text, or `Linux`. */
export function prettyName(osRelease: string): string {
  for (const line of osRelease.split('\n')) {
    const m = /^PRETTY_NAME=(.*)$/.exec(line.trim());
    if (m === null) continue;
    const raw = m[1].trim();
    return raw.replace(/^(["'])(.*)\1$/, '$2') || 'Linux';
  }
  return 'Linux';
}

async function readTrimmed(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return '';
  }
}

/** The first non-internal IPv4 address of this machine, or 127.0.0.1. */
export function defaultNodeIP(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Reads the machine's facts once; `root` is the kubelet root (for ephemeral-storage). */
export async function readMachineInfo(root: string, address?: string): Promise<MachineInfo> {
  const osRelease = (await readTrimmed('/etc/os-release')) || (await readTrimmed('/usr/lib/os-release'));
  const machineID = (await readTrimmed('/etc/machine-id')) || (await readTrimmed('/var/lib/dbus/machine-id'));
  // product_uuid is root-only on most machines; the machine id stands in, as on many VMs.
  const systemUUID = (await readTrimmed('/sys/class/dmi/id/product_uuid')) || machineID;
  const bootID = await readTrimmed('/proc/sys/kernel/random/boot_id');
  let ephemeralStorageBytes = 0;
  try {
    const fs = await statfs(root);
    ephemeralStorageBytes = Number(fs.blocks) * Number(fs.bsize);
  } catch {
    // Root not created yet or unreadable: report no ephemeral storage rather than fail registration.
  }
  return {
    hostname: hostname(),
    architecture: goArch(),
    operatingSystem: 'linux',
    osImage: prettyName(osRelease),
    kernelVersion: release(),
    machineID,
    systemUUID,
    bootID,
    cpus: availableParallelism(),
    memoryBytes: totalmem(),
    ephemeralStorageBytes,
    internalIP: address ?? defaultNodeIP(),
  };
}
