// Shared by this folder's tests (not part of the public API): installing
// tiny shell drivers and the example drivers into a temporary plugin dir,
// and looking for processes a killed driver might have left behind.

import { chmod, copyFile, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { driverExecutablePath } from './flexvolume.ts';

export const EXAMPLES_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../../examples/flexvolume');

/** Writes `#!/bin/sh` + body as `<pluginDir>/<dirName>/<driver>`, executable. Returns its path. */
export async function writeDriver(pluginDir: string, dirName: string, body: string): Promise<string> {
  const path = driverExecutablePath(pluginDir, dirName);
  await mkdir(dirname(path), { recursive: true });
  // Written beside and renamed over: a new inode each time, as a careful installer does.
  const tmp = join(dirname(path), `.tmp-${process.pid}`);
  await writeFile(tmp, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  await rename(tmp, path);
  return path;
}

/** Copies an example driver (`volplane~loop`, `volplane~bind`) into `pluginDir`. */
export async function installExample(pluginDir: string, dirName: string): Promise<string> {
  const from = driverExecutablePath(EXAMPLES_DIR, dirName);
  const to = driverExecutablePath(pluginDir, dirName);
  await mkdir(dirname(to), { recursive: true });
  await copyFile(from, to);
  await chmod(to, 0o755);
  return to;
}

/** PIDs of live processes whose command line contains `marker`. */
export async function processesWith(marker: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (cmdline.includes(marker)) out.push(Number(name));
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

/** A driver body that answers every call with `answer` and appends its argv (one per line, then "--") to `log`. */
export function recordingDriver(log: string, answer = '{"status":"Success"}'): string {
  return `for a in "$@"; do printf '%s\\n' "$a" >> '${log}'; done
printf -- '--\\n' >> '${log}'
printf '%s\\n' '${answer}'`;
}

/** The recorded calls of recordingDriver: argv arrays, in order. */
export async function recordedCalls(log: string): Promise<string[][]> {
  let text: string;
  try {
    text = await readFile(log, 'utf8');
  } catch {
    return [];
  }
  const calls: string[][] = [];
  let cur: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '--') {
      calls.push(cur);
      cur = [];
    } else if (line !== '') cur.push(line);
  }
  return calls;
}
