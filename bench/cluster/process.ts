// One child process of the box: started in its own process group, its output tailed, waited for until
// ready, and killed when this process exits so that no redis/haproxy/java/node is left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { sleep } from './ports.js';

const live = new Set<ChildProcess>();
let hooked = false;

/** Kills the child's whole group (java, or anything a child forks, goes with it). */
function signalGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid === undefined) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    try {
      p.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // Synchronous last resort: whatever path this process exits by, its children go too.
  process.on('exit', () => {
    for (const p of live) signalGroup(p, 'SIGKILL');
  });
}

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Spawns the child some other way (e.g. a package's own launcher); must use detached + piped stdio. */
  spawn?: () => ChildProcess;
  /** Resolves true once the process serves; polled every 100 ms. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

const TAIL_BYTES = 16 * 1024;

export class ManagedProcess {
  private proc: ChildProcess | undefined;
  private tail = '';
  private exit: Promise<void> = Promise.resolve();

  constructor(readonly spec: ProcessSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.running ? this.proc?.pid : undefined;
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The last 16 KiB the process wrote (stdout and stderr). */
  log(): string {
    return this.tail;
  }

  /** Called with (code, signal) whenever the process ends, expected or not. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;

  async start(): Promise<void> {
    if (this.running) return;
    hookExit();
    const p = this.spec.spawn
      ? this.spec.spawn()
      : spawn(this.spec.command, this.spec.args, { env: this.spec.env, cwd: this.spec.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    live.add(p);
    const append = (d: Buffer) => {
      this.tail = (this.tail + d.toString()).slice(-TAIL_BYTES);
    };
    p.stdout?.on('data', append);
    p.stderr?.on('data', append);
    let spawnError: Error | undefined;
    this.exit = new Promise((resolve) => {
      p.once('error', (err) => {
        spawnError = err;
        live.delete(p);
        resolve();
      });
      p.once('exit', (code, signal) => {
        live.delete(p);
        this.onExit?.(code, signal);
        resolve();
      });
    });
    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (spawnError) throw new Error(`${this.name}: cannot start ${this.spec.command}: ${spawnError.message}`);
      if (!this.running) throw new Error(`${this.name} exited during start (code ${p.exitCode}, signal ${p.signalCode}):\n${this.tail}`);
      if (await this.spec.ready()) return;
      if (Date.now() > deadline) {
        await this.kill('SIGKILL');
        throw new Error(`${this.name} not ready within ${this.spec.readyTimeoutMs ?? 30_000} ms:\n${this.tail}`);
      }
      await sleep(100);
    }
  }

  /** Sends a signal without waiting (SIGSTOP/SIGCONT simulate a hung process). */
  signal(signal: NodeJS.Signals): void {
    if (this.proc && this.running) signalGroup(this.proc, signal);
  }

  /** Sends the signal (default SIGKILL) and resolves once the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.proc || !this.running) return this.exit;
    signalGroup(this.proc, signal);
    // A stopped process cannot act on SIGTERM until it is continued.
    if (signal !== 'SIGKILL') signalGroup(this.proc, 'SIGCONT');
    await this.exit;
  }

  /** SIGTERM, then SIGKILL after timeoutMs. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return this.exit;
    const timer = setTimeout(() => this.proc && signalGroup(this.proc, 'SIGKILL'), timeoutMs);
    try {
      await this.kill('SIGTERM');
    } finally {
      clearTimeout(timer);
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Resolves when the current run of the process ends. */
  exited(): Promise<void> {
    return this.exit;
  }
}

/** Every child this process started and that still runs (for the no-orphans check). */
export function livePids(): number[] {
  return [...live].map((p) => p.pid).filter((pid): pid is number => pid !== undefined);
}

/**
 * For scripts without their own shutdown: a signal exits the process, and exiting runs the hook above,
 * so Ctrl-C or a timeout's SIGTERM never leaves a redis-server or a server under test running.
 */
export function exitOnSignals(): void {
  const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  for (const [signal, code] of Object.entries(codes)) process.once(signal, () => process.exit(code));
}
