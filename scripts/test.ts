// The test command (`npm test` runs `tsc --noEmit -p . && node scripts/test.ts`).
//
// Runs node's test runner over src/**/*.test.ts and test/**/*.test.ts (or the
// files given as arguments) with the same pinned node, then checks that
// nothing of ours is left mounted or attached. Exit status: 0 only when every
// test passed and no leak remains.
//
// Output: the spec reporter on stdout for people, plus the runner's closing
// TAP summary (`# tests N`, `# pass N`, `# fail N`, ...) so tools and CI logs
// have fixed lines to read.
//
// Leaks: this machine may be shared, so a leak that was already there before
// the run is reported but does not fail it, and a new one must still be there
// after a short grace period (an unmount racing with the check is not a leak).

import { spawn } from 'node:child_process';
import { glob, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { TimeoutError, waitFor } from '../src/base/index.ts';
import { findLeaks } from '../src/testing/leak-check.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PATTERNS = ['src/**/*.test.ts', 'test/**/*.test.ts'];
const LEAK_GRACE_MS = 5_000;

async function testFiles(args: readonly string[]): Promise<string[]> {
  if (args.length > 0) return [...args];
  const files: string[] = [];
  for (const pattern of PATTERNS) {
    for await (const file of glob(pattern, { cwd: ROOT, exclude: (name) => name === 'node_modules' })) files.push(file);
  }
  return files.sort();
}

function runNodeTest(files: readonly string[], tapFile: string): Promise<number> {
  const args = [
    '--test',
    '--test-concurrency=2',
    // A hung test fails instead of hanging the whole run.
    '--test-timeout=300000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ];
  return new Promise((resolveExit, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
    // Ctrl-C reaches the runner through the terminal; we only wait for it to finish.
    const ignore = (): void => {};
    process.on('SIGINT', ignore);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      process.off('SIGINT', ignore);
      resolveExit(code ?? (signal === null ? 1 : 128));
    });
  });
}

/** The closing `# name N` lines of a TAP stream (the top-level ones, not a subtest's). */
function tapSummary(tap: string): string[] {
  return tap.split('\n').filter((line) => /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(line));
}

async function leakCheck(before: ReadonlySet<string>): Promise<boolean> {
  const newLeaks = (leaks: string[]): string[] => leaks.filter((l) => !before.has(l));
  let leaks = await findLeaks();
  if (newLeaks(leaks).length > 0) {
    try {
      leaks = await waitFor(
        'mounts and loop devices to go away',
        async () => {
          const now = await findLeaks();
          return newLeaks(now).length === 0 ? now : false;
        },
        { timeoutMs: LEAK_GRACE_MS, intervalMs: 250 },
      );
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      leaks = await findLeaks();
    }
  }
  const old = leaks.filter((l) => before.has(l));
  const fresh = newLeaks(leaks);
  if (old.length > 0) {
    process.stdout.write(`\n# leak check: already present before this run (not counted):\n${old.map((l) => `#   ${l}`).join('\n')}\n`);
  }
  if (fresh.length > 0) {
    process.stdout.write(`\n# leak check FAILED: the tests left these mounted or attached:\n${fresh.map((l) => `#   ${l}`).join('\n')}\n`);
    return false;
  }
  process.stdout.write('# leak check: nothing left mounted or attached\n');
  return true;
}

async function main(args: readonly string[]): Promise<number> {
  const files = await testFiles(args);
  if (files.length === 0) {
    process.stdout.write(`no test files match ${PATTERNS.join(' ')}\n`);
    return 1;
  }
  const before = new Set(await findLeaks());
  const scratch = await mkdtemp(join(tmpdir(), 'volplane-test-run-'));
  try {
    const tapFile = join(scratch, 'report.tap');
    process.stdout.write(`# running ${files.length} test files with ${relative(ROOT, process.execPath) || process.execPath}\n`);
    const code = await runNodeTest(files, tapFile);
    const summary = tapSummary(await readFile(tapFile, 'utf8').catch(() => ''));
    process.stdout.write(`\n${summary.join('\n')}\n`);
    const clean = await leakCheck(before);
    return code === 0 && clean ? 0 : 1;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

process.exitCode = await main(process.argv.slice(2));
