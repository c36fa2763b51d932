// Fan-out points: L listening sockets (in listener processes) on one server while placements arrive at a
// paced rate over HTTP; each placement's pixel encodes its due time, so every listener measures
// placement → frame latency for every entry it receives, and checks that it got every seq once, in order.
import { sleep } from '../cluster/ports.js';
import { ListenerPool } from './load/listener-pool.js';
import { paced } from './saturation.js';
import { cpuMeter } from './stats.js';
import type { Bench, Target } from './targets.js';

export interface FanoutPoint {
  server: string;
  listeners: number;
  rate: number;
  placements: number;
  /** Listener sockets that received every placement exactly once, in order. */
  complete: number;
  gaps: number;
  dups: number;
  closedEarly: number;
  framesPerS: number;
  p50: number;
  p99: number;
  putP99: number;
  putFailed: number;
  cpu: Record<string, number>;
}

export async function fanoutPoint(bench: Bench, kind: 'bare' | 'tessera', o: { listeners: number; rate: number; durationS: number }): Promise<FanoutPoint> {
  await bench.flush();
  // The bare server takes the same PUTs (one script call each) so both see the same placement traffic.
  const target: Target = kind === 'bare' ? await bench.bare('lua,fanout') : await bench.tessera();
  try {
    // Two listener processes from 2,000 sockets on, so one client process's core does not bound delivery alone.
    const pool = await ListenerPool.open({ port: target.port, count: o.listeners, clockLatency: true, processes: o.listeners >= 2000 ? 2 : 1 });
    try {
      await sleep(1000);
      const s0 = await bench.headSeq();
      const pids: Record<string, number | undefined> = { server: target.pid, redis: bench.redis.process.pid };
      pool.pids.forEach((p, i) => (pids[`listeners${i}`] = p));
      const meter = cpuMeter(pids);
      // The first second warms up (JIT, connections): its frames are not counted.
      let resetAt = 0;
      const warm = sleep(1000).then(() => pool.reset().then(() => (resetAt = performance.now())));
      const put = await paced(bench, target, { rate: o.rate, connections: 16, durationS: o.durationS, pixels: 'clock', prefix: `f${kind}${o.listeners}-` });
      await warm;
      // The last batch interval, plus slack for a saturated box to deliver it.
      await sleep(1500);
      const s1 = await bench.headSeq();
      const rep = await pool.report(s0 + 1, s1);
      const windowS = (performance.now() - resetAt) / 1000;
      const cpu = meter();
      const listenerCpu = Object.entries(cpu).filter(([k]) => k.startsWith('listeners')).reduce((a, [, v]) => a + v, 0);
      return {
        server: target.name,
        listeners: o.listeners,
        rate: o.rate,
        placements: s1 - s0,
        complete: rep.complete,
        gaps: rep.gaps,
        dups: rep.dups,
        closedEarly: rep.closedEarly,
        framesPerS: rep.frames / windowS,
        p50: rep.latency.p50,
        p99: rep.latency.p99,
        putP99: put.p99,
        putFailed: put.failed,
        cpu: { server: cpu.server, redis: cpu.redis, listeners: listenerCpu, others: cpu.machine - cpu.server - cpu.redis - listenerCpu - (put.cpu.generator ?? 0) },
      };
    } finally {
      pool.close();
    }
  } finally {
    await target.stop();
  }
}
