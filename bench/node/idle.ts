// RSS per idle WebSocket: open N sockets (from 127.0.0.x source addresses, in listener processes), let the
// server settle, and divide its RSS growth by N; the same for the bare uWS server.
import { nofileLimit } from '../cluster/limits.js';
import { sleep } from '../cluster/ports.js';
import { ListenerPool } from './load/listener-pool.js';
import { rssKiB } from './stats.js';
import type { Bench, Target } from './targets.js';

export interface IdlePoint {
  server: string;
  baseKiB: number;
  /** perConnKiB: (RSS at N − RSS with none) / N; marginalKiB: RSS growth per socket since the previous count. */
  points: { connections: number; rssKiB: number; perConnKiB: number; marginalKiB: number }[];
}

/**
 * The largest count the server can hold here: every socket is a descriptor, and the hard `ulimit -n`
 * (20,000 on this machine, not raisable without CAP_SYS_RESOURCE) also covers its other files.
 */
export function maxIdleConnections(): number {
  return Math.min(20_000, nofileLimit() - 150);
}

/** RSS after a full GC (gc-hook.ts) and a moment to settle. */
async function settledRss(pid: number): Promise<number> {
  await sleep(1000);
  process.kill(pid, 'SIGUSR2');
  await sleep(1000);
  return rssKiB(pid);
}

export async function idlePoint(bench: Bench, kind: 'bare' | 'tessera', counts: number[]): Promise<IdlePoint> {
  const target: Target = kind === 'bare' ? await bench.bare('fanout', true) : await bench.tessera({}, true);
  const pools: ListenerPool[] = [];
  try {
    await sleep(1000);
    const baseKiB = await settledRss(target.pid);
    const points: IdlePoint['points'] = [];
    let open = 0;
    let prev = baseKiB;
    let addressBase = 2;
    for (const n of counts) {
      const add = n - open;
      pools.push(await ListenerPool.open({ port: target.port, count: add, addressBase }));
      addressBase += Math.ceil(add / 5000) + 1;
      open = n;
      const rss = await settledRss(target.pid);
      points.push({ connections: n, rssKiB: rss, perConnKiB: (rss - baseKiB) / n, marginalKiB: (rss - prev) / add });
      prev = rss;
    }
    return { server: target.name, baseKiB, points };
  } finally {
    for (const p of pools) p.close();
    await target.stop();
  }
}
