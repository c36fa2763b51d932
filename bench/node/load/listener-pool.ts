// The parent side of listeners.ts: forks a few listener processes (fd limits, and both cores), spreads the
// sockets over 127.0.0.x source addresses (each has its own ephemeral port range), merges their reports.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Histogram } from '../stats.js';
import type { ListenerCommand, ListenerReport } from './listeners.js';

const CHILD = fileURLToPath(new URL('./listeners.js', import.meta.url));
/** Sockets per source address: well under the ~28k ports of one (source, destination) pair. */
const PER_ADDRESS = 5000;

export interface PoolReport extends Omit<ListenerReport, 'histogram' | 'type'> {
  latency: { p50: number; p99: number; max: number; n: number };
}

export class ListenerPool {
  private constructor(private readonly children: ChildProcess[]) {}

  /** Opens `count` sockets to port over `processes` children; throws if any socket failed. */
  static async open(o: { port: number; count: number; processes?: number; clockLatency?: boolean; addressBase?: number }): Promise<ListenerPool> {
    const n = Math.max(1, o.processes ?? Math.ceil(o.count / 9000));
    const children = Array.from({ length: n }, () => fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] }));
    const pool = new ListenerPool(children);
    try {
      let addr = o.addressBase ?? 2;
      const results = await Promise.all(
        children.map((c, i) => {
          const count = Math.floor(o.count / n) + (i < o.count % n ? 1 : 0);
          const addresses = Array.from({ length: Math.ceil(count / PER_ADDRESS) }, () => `127.0.0.${addr++}`);
          return pool.ask<{ opened: number; failed: number; error?: string }>(c, { type: 'open', port: o.port, count, localAddresses: addresses, clockLatency: !!o.clockLatency }, 'opened');
        }),
      );
      const failed = results.reduce((a, r) => a + r.failed, 0);
      if (failed) throw new Error(`${failed} of ${o.count} WebSockets failed to open: ${results.find((r) => r.error)?.error}`);
      return pool;
    } catch (err) {
      pool.close();
      throw err;
    }
  }

  private ask<T>(c: ChildProcess, cmd: ListenerCommand, reply: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMsg = (m: { type: string }) => {
        if (m.type !== reply) return;
        c.off('message', onMsg);
        c.off('exit', onExit);
        resolve(m as T);
      };
      const onExit = (code: number | null) => reject(new Error(`listener process exited (${code})`));
      c.on('message', onMsg);
      c.once('exit', onExit);
      c.send(cmd);
    });
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid!).filter(Boolean);
  }

  /** Forgets latencies and counts so far (e.g. frames before the measured window). */
  async reset(): Promise<void> {
    await Promise.all(this.children.map((c) => this.ask(c, { type: 'reset' }, 'reset')));
  }

  /** Delivery of seqs from..to on every socket, and the merged placement → frame latency. */
  async report(from: number, to: number): Promise<PoolReport> {
    const reports = await Promise.all(this.children.map((c) => this.ask<ListenerReport>(c, { type: 'report', from, to }, 'report')));
    const hist = new Histogram(reports[0].bucketMs, reports[0].bucketMs * (reports[0].histogram.length - 1));
    const sum = (k: keyof ListenerReport) => reports.reduce((a, r) => a + (r[k] as number), 0);
    for (const r of reports) hist.merge(r.histogram);
    return {
      sockets: sum('sockets'),
      complete: sum('complete'),
      closedEarly: sum('closedEarly'),
      gaps: sum('gaps'),
      dups: sum('dups'),
      frames: sum('frames'),
      entries: sum('entries'),
      bucketMs: reports[0].bucketMs,
      latency: { p50: hist.quantile(0.5), p99: hist.quantile(0.99), max: hist.quantile(1), n: hist.total },
    };
  }

  close(): void {
    for (const c of this.children) {
      if (c.connected) c.send({ type: 'close' });
      setTimeout(() => c.kill('SIGKILL'), 2000).unref();
    }
  }
}
