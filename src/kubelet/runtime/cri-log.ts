// Container logs in the CRI log format the kubelet reads (one entry per line):
//
//   <RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>
//
// `F` ends a line; `P` is a fragment of a line longer than the buffer (or
// one still waiting for its newline), continued by later entries. The shim
// writes this format; `readContainerLog` serves `kubectl logs` from it with
// the kubelet's options (follow, tailLines, sinceTime, timestamps).

import { open } from 'node:fs/promises';
// Straight from the modules, not base/index.ts: the shim imports this file
// and every container start pays for what it loads (base/index pulls in pino).
import { CancelledError } from '../../base/errors.ts';
import { delay } from '../../base/wait.ts';

export type LogStream = 'stdout' | 'stderr';

/** Longest content of one entry; longer lines are split into `P` fragments (the kubelet uses 16 KiB). */
export const MAX_LOG_ENTRY_BYTES = 16 * 1024;

/** Wall-clock nanoseconds, monotonic within this process (Date has only milliseconds). */
export function createNanoClock(): () => bigint {
  const base = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return () => base + process.hrtime.bigint();
}

/** Go's RFC3339Nano in UTC: the fraction loses trailing zeros and disappears when zero. */
export function formatRfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString(); // 2024-01-02T03:04:05.678Z
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return iso.slice(0, 19) + (frac === '' ? '' : '.' + frac) + 'Z';
}

/** Nanoseconds since the epoch of an RFC3339(Nano) timestamp; undefined when it does not parse. */
export function parseRfc3339Nano(text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (m === null) return undefined;
  const seconds = Date.parse(m[1] + m[3]);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/**
 * Turns a process's output chunks into CRI log entries. One writer per log
 * file; each stream keeps its own unfinished line so that interleaved
 * stdout and stderr never mix inside an entry.
 */
export class CriLogWriter {
  readonly #write: (entry: string) => void;
  readonly #now: () => bigint;
  readonly #pending: Record<LogStream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

  constructor(write: (entry: string) => void, now: () => bigint = createNanoClock()) {
    this.#write = write;
    this.#now = now;
  }

  push(stream: LogStream, chunk: Buffer): void {
    let buf = this.#pending[stream].length === 0 ? chunk : Buffer.concat([this.#pending[stream], chunk]);
    const out: string[] = [];
    const ts = formatRfc3339Nano(this.#now());
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (nl >= 0 && nl <= MAX_LOG_ENTRY_BYTES) {
        out.push(entry(ts, stream, 'F', buf.subarray(0, nl)));
        buf = buf.subarray(nl + 1);
      } else if (buf.length > MAX_LOG_ENTRY_BYTES) {
        out.push(entry(ts, stream, 'P', buf.subarray(0, MAX_LOG_ENTRY_BYTES)));
        buf = buf.subarray(MAX_LOG_ENTRY_BYTES);
      } else {
        break;
      }
    }
    this.#pending[stream] = Buffer.from(buf);
    if (out.length > 0) this.#write(out.join(''));
  }

  /** The stream closed: an unfinished last line still counts as a full line. */
  end(stream: LogStream): void {
    const rest = this.#pending[stream];
    this.#pending[stream] = Buffer.alloc(0);
    if (rest.length > 0) this.#write(entry(formatRfc3339Nano(this.#now()), stream, 'F', rest));
  }
}

function entry(ts: string, stream: LogStream, tag: 'P' | 'F', content: Buffer): string {
  return `${ts} ${stream} ${tag} ${content.toString('utf8')}\n`;
}

export interface CriLogEntry {
  timestamp: string;
  stream: LogStream;
  /** True for a `P` fragment: the line continues in the next entry of the stream. */
  partial: boolean;
  content: string;
}

/** Parses one line of a CRI log file; undefined for a malformed line. */
export function parseCriLogLine(line: string): CriLogEntry | undefined {
  const a = line.indexOf(' ');
  const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
  const c = b < 0 ? -1 : line.indexOf(' ', b + 1);
  if (c < 0) {
    // "<ts> <stream> F" with empty content may lack the trailing space.
    const parts = line.split(' ');
    if (parts.length === 3 && (parts[2] === 'F' || parts[2] === 'P') && (parts[1] === 'stdout' || parts[1] === 'stderr')) {
      return { timestamp: parts[0], stream: parts[1], partial: parts[2] === 'P', content: '' };
    }
    return undefined;
  }
  const stream = line.slice(a + 1, b);
  const tag = line.slice(b + 1, c);
  if ((stream !== 'stdout' && stream !== 'stderr') || (tag !== 'P' && tag !== 'F')) return undefined;
  return { timestamp: line.slice(0, a), stream, partial: tag === 'P', content: line.slice(c + 1) };
}

export interface LogLine extends CriLogEntry {
  /** What `kubectl logs` prints for this entry: optional timestamp, content, newline unless partial. */
  text: string;
}

export interface ReadContainerLogOptions {
  /** Keep reading as the file grows, until `signal` aborts or `isRunning` says the container is gone. */
  follow?: boolean;
  /** Only the last N lines already in the file (a line ends with an `F` entry). */
  tailLines?: number;
  /** Only entries at or after this time. */
  sinceTime?: Date | string;
  /** Prefix each printed entry with its RFC3339Nano timestamp. */
  timestamps?: boolean;
  signal?: AbortSignal;
  /** With `follow`: once this returns false and the file has been drained, reading ends. */
  isRunning?: () => boolean;
  /** How often a followed file is checked for growth (default 100 ms). */
  pollMs?: number;
  onLine: (line: LogLine) => void | Promise<void>;
}

export class ContainerLogNotFoundError extends Error {
  override readonly name = 'ContainerLogNotFoundError';
  readonly path: string;
  constructor(path: string, options?: ErrorOptions) {
    super(`container log ${path} does not exist`, options);
    this.path = path;
  }
}

/**
 * Reads a CRI log file and calls `onLine` for each entry that passes the
 * filters, in file order. Resolves at the end of the file, or when following,
 * once the container stopped (`isRunning`) or `signal` aborted. Throws
 * ContainerLogNotFoundError when the file does not exist.
 */
export async function readContainerLog(path: string, options: ReadContainerLogOptions): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ContainerLogNotFoundError(path, { cause: err });
    throw err;
  }
  try {
    const since = options.sinceTime === undefined ? undefined : toNanos(options.sinceTime);
    const toLine = (e: CriLogEntry): LogLine => ({
      ...e,
      text: (options.timestamps === true ? e.timestamp + ' ' : '') + e.content + (e.partial ? '' : '\n'),
    });
    const passes = (e: CriLogEntry): boolean => {
      if (since === undefined) return true;
      const t = parseRfc3339Nano(e.timestamp);
      return t !== undefined && t >= since;
    };

    // What is in the file now: read whole lines; keep an unterminated tail for later.
    let offset = 0;
    let carry = '';
    const readMore = async (): Promise<string[]> => {
      const { size } = await handle.stat();
      if (size < offset) {
        offset = 0; // truncated: start over
        carry = '';
      }
      if (size === offset) return [];
      const buf = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      offset += bytesRead;
      const text = carry + buf.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      return lines;
    };

    let entries = (await readMore()).map(parseCriLogLine).filter((e): e is CriLogEntry => e !== undefined && passes(e));
    if (options.tailLines !== undefined) entries = lastLines(entries, options.tailLines);
    for (const e of entries) {
      if (options.signal?.aborted) return;
      await options.onLine(toLine(e));
    }
    if (options.follow !== true) return;

    const pollMs = options.pollMs ?? 100;
    for (;;) {
      if (options.signal?.aborted) return;
      const stillRunning = options.isRunning?.() ?? true;
      const lines = await readMore();
      for (const line of lines) {
        const e = parseCriLogLine(line);
        if (e !== undefined && passes(e)) await options.onLine(toLine(e));
      }
      if (lines.length === 0 && !stillRunning) return;
      try {
        await delay(pollMs, options.signal);
      } catch (err) {
        if (err instanceof CancelledError) return;
        throw err;
      }
    }
  } finally {
    await handle.close();
  }
}

function toNanos(t: Date | string): bigint {
  if (t instanceof Date) return BigInt(t.getTime()) * 1_000_000n;
  const ns = parseRfc3339Nano(t);
  if (ns !== undefined) return ns;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new RangeError(`sinceTime ${JSON.stringify(t)} is not an RFC3339 time`);
  return BigInt(ms) * 1_000_000n;
}

/** The entries making up the last `n` lines; partial fragments belong to the line their `F` ends. */
function lastLines(entries: CriLogEntry[], n: number): CriLogEntry[] {
  if (n <= 0) return [];
  let lines = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    // A full entry closes a line; the one that would be line n+1 marks the cut.
    if (!entries[i].partial) {
      lines++;
      if (lines > n) return entries.slice(i + 1);
    }
  }
  return entries;
}
