#!/usr/bin/env node
// The `volplane` executable: runs src/cli/main.ts with the project's pinned
// node (node_modules/.bin/node, Node 24, which runs TypeScript directly), so it
// works whichever node launched this file. Signals are passed on to the child
// and its exit status (or signal) becomes ours.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = join(root, 'node_modules', '.bin', 'node');
const node = existsSync(pinned) ? pinned : process.execPath;

// glibc gives every thread that calls malloc an arena of its own (up to 8 per
// core), each holding on to what it once needed: with the SQLite worker, the
// V8 platform threads and libuv's pool, two arenas keep an idle server about
// 12 MB smaller at no measurable cost. A value already set wins.
const env = { MALLOC_ARENA_MAX: '2', ...process.env };

const child = spawn(node, [join(root, 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit', env });

const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const forward = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
for (const signal of forwarded) process.on(signal, forward);

child.on('error', (err) => {
  process.stderr.write(`volplane: cannot run ${node}: ${err.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  for (const s of forwarded) process.off(s, forward);
  if (signal !== null) {
    // Die of the same signal, so our parent sees what really happened.
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
