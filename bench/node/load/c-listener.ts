// The watchers bench's listener crowd: bench/watchers/listener.c, compiled here with the machine's `cc -O2`
// (into dist/, untracked), run as a few processes of ≤ 6,000 sockets each (a process may hold 20,000 files
// here), driven over stdin and read back line by line from stdout.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../../cluster/container.js';
import { ManagedProcess } from '../../cluster/process.js';

const SOURCES = ['listener.c', 'ws-stream.c', 'ws-stream.h'].map((f) => join(REPO_ROOT, 'bench', 'watchers', f));
export const LISTENER_BIN = join(REPO_ROOT, 'dist', 'bench-native', 'watchers-listener');
/** Sockets per listener process. */
export const PER_PROCESS = 6000;
/** Source addresses per process: with IP_BIND_ADDRESS_NO_PORT one would do; two keep clear of any port reuse. */
const ADDRESSES_PER_PROCESS = 2;

const mtime = (f: string) => {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return -1;
  }
};

/** Compiles listener.c unless the binary is newer than its sources; returns the binary's path. */
export function buildListener(): string {
  if (mtime(LISTENER_BIN) > Math.max(...SOURCES.map(mtime))) return LISTENER_BIN;
  mkdirSync(join(LISTENER_BIN, '..'), { recursive: true });
  const cc = process.env.CC ?? 'cc';
  // Built beside and renamed over: two runs building at once never execute a half-written binary.
  const tmp = `${LISTENER_BIN}.${process.pid}`;
  const r = spawnSync(cc, ['-O2', '-Wall', '-o', tmp, SOURCES[0], SOURCES[1]], { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run ${cc} to build bench/watchers/listener.c: ${r.error.message} (apt-get install gcc)`);
  if (r.status !== 0) throw new Error(`${cc} failed on bench/watchers/listener.c:\n${r.stderr}`);
  renameSync(tmp, LISTENER_BIN);
  return LISTENER_BIN;
}

export interface ListenerMark {
  ns: bigint;
  open: number;
  frames: number;
  entries: number;
  bytes: number;
  texts: number;
}

export interface ListenerSummary {
  open: number;
  closed: number;
  failed: number;
  frames: number;
  entries: number;
  bytes: number;
  texts: number;
  gaps: number;
  dups: number;
  /** Seqs skipped over by gaps. */
  missing: number;
  /** Open sockets with ≥ 1 frame, no gap and no duplicate. */
  gapFree: number;
  minLast: number;
  maxLast: number;
}

const SUMMARY_KEYS = ['open', 'closed', 'failed', 'frames', 'entries', 'bytes', 'texts', 'gaps', 'dups', 'missing', 'gapFree', 'minLast', 'maxLast'] as const;

export interface ListenerOptions {
  port: number;
  count: number;
  /** First source address 127.0.0.<srcBase>. */
  srcBase: number;
  srcCount?: number;
  /** Every sample-th socket records its frames to recordsFile. */
  sample?: number;
  recordsFile?: string;
  openTimeoutMs?: number;
  /** Pin the process to this core (taskset). */
  cpu?: number;
}

/** One listener process. */
export class CListener {
  private readonly waiters: { prefix: string; resolve: (line: string) => void }[] = [];
  private child!: ChildProcessWithoutNullStreams;
  private readyLine: string | undefined;
  readonly process: ManagedProcess;

  constructor(readonly o: ListenerOptions) {
    const bin = buildListener();
    const args = ['--port', String(o.port), '--count', String(o.count), '--src-base', String(o.srcBase), '--src-count', String(o.srcCount ?? ADDRESSES_PER_PROCESS)];
    args.push('--sample', String(o.sample ?? 10), '--open-timeout-ms', String(o.openTimeoutMs ?? 60_000));
    if (o.recordsFile) args.push('--records', o.recordsFile);
    const [command, argv] = o.cpu === undefined ? [bin, args] : ['taskset', ['-c', String(o.cpu), bin, ...args]];
    this.process = new ManagedProcess({
      name: 'watchers-listener',
      command,
      args: argv,
      spawn: () => {
        this.child = spawn(command, argv, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
        createInterface({ input: this.child.stdout }).on('line', (l) => this.onLine(l));
        this.child.stdin.on('error', () => {}); // the process is gone: its exit is what counts
        return this.child;
      },
      ready: async () => this.readyLine !== undefined,
      readyTimeoutMs: (o.openTimeoutMs ?? 60_000) + 10_000,
    });
  }

  private onLine(line: string): void {
    if (line.startsWith('ready ')) this.readyLine = line;
    const i = this.waiters.findIndex((w) => line.startsWith(w.prefix + ' '));
    if (i >= 0) this.waiters.splice(i, 1)[0].resolve(line);
  }

  /** Starts the process; resolves once every socket is open or failed. */
  async start(): Promise<{ open: number; failed: number; error: string }> {
    await this.process.start();
    const [, open, failed, ...error] = this.readyLine!.split(' ');
    return { open: Number(open), failed: Number(failed), error: error.join(' ') };
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  private ask(command: string, prefix: string, timeoutMs = 10_000): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const w = { prefix, resolve: (l: string) => (clearTimeout(timer), resolve(l.split(' ').slice(1))) };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`listener ${this.pid}: no answer to "${command}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
      this.child.stdin.write(command + '\n');
    });
  }

  async mark(): Promise<ListenerMark> {
    const [ns, open, frames, entries, bytes, texts] = await this.ask('mark', 'mark');
    return { ns: BigInt(ns), open: Number(open), frames: Number(frames), entries: Number(entries), bytes: Number(bytes), texts: Number(texts) };
  }

  /** Aggregate counts; with file, one line per socket written there too. Flushes the records file. */
  async summary(file = ''): Promise<ListenerSummary> {
    const f = await this.ask(`summary ${file}`.trim(), 'summary');
    return Object.fromEntries(SUMMARY_KEYS.map((k, i) => [k, Number(f[i])])) as unknown as ListenerSummary;
  }

  async stop(): Promise<void> {
    if (this.process.running) this.child.stdin.end('quit\n');
    await this.process.stop(2000);
  }
}

/** Source addresses a pool of count sockets uses, from its srcBase on. */
export function addressesFor(count: number): number {
  return Math.ceil(count / PER_PROCESS) * ADDRESSES_PER_PROCESS;
}

/** count sockets over ⌈count / PER_PROCESS⌉ listener processes, each on its own source addresses. */
export class CListenerPool {
  private constructor(readonly listeners: CListener[]) {}

  /** records(i): the records file of process i. Starts the processes one after another (the server accepts on one core anyway). */
  static async open(o: Omit<ListenerOptions, 'count' | 'recordsFile' | 'srcBase'> & { count: number; srcBase?: number; records?: (i: number) => string }): Promise<{ pool: CListenerPool; open: number; failed: number; error: string }> {
    const n = Math.ceil(o.count / PER_PROCESS);
    const listeners: CListener[] = [];
    const pool = new CListenerPool(listeners);
    let open = 0;
    let failed = 0;
    let error = '';
    try {
      for (let i = 0; i < n; i++) {
        const count = Math.floor(o.count / n) + (i < o.count % n ? 1 : 0);
        const l = new CListener({ ...o, count, srcBase: (o.srcBase ?? 2) + i * ADDRESSES_PER_PROCESS, recordsFile: o.records?.(i) });
        listeners.push(l);
        const r = await l.start();
        open += r.open;
        failed += r.failed;
        error ||= r.error;
      }
    } catch (err) {
      await pool.stop();
      throw err;
    }
    return { pool, open, failed, error };
  }

  get pids(): number[] {
    return this.listeners.map((l) => l.pid).filter((p): p is number => p !== undefined);
  }

  async mark(): Promise<ListenerMark> {
    const ms = await Promise.all(this.listeners.map((l) => l.mark()));
    const sum = (k: Exclude<keyof ListenerMark, 'ns'>) => ms.reduce((a, m) => a + m[k], 0);
    return { ns: ms[0].ns, open: sum('open'), frames: sum('frames'), entries: sum('entries'), bytes: sum('bytes'), texts: sum('texts') };
  }

  async summary(): Promise<ListenerSummary> {
    const ss = await Promise.all(this.listeners.map((l) => l.summary()));
    const out = {} as ListenerSummary;
    for (const k of SUMMARY_KEYS) out[k] = ss.reduce((a, s) => (k === 'minLast' ? Math.min(a, s[k]) : k === 'maxLast' ? Math.max(a, s[k]) : a + s[k]), k === 'minLast' ? Infinity : k === 'maxLast' ? -1 : 0);
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stop()));
  }
}
