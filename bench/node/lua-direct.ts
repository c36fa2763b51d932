// Ceiling (b): the placement script called straight on Redis from Node — one placement per call (ioredis
// autoPipelining off and on), then groups of g placements per call, to show how the rate grows with g.
import { placeGroup, scriptRedis, type Placement } from './lua.js';
import { cpuMeter } from './stats.js';
import type { Bench } from './targets.js';

export interface LuaPoint {
  group: number;
  inFlight: number;
  autoPipelining: boolean;
  placementsPerS: number;
  callsPerS: number;
  /** p99 of one call, ms */
  p99: number;
  redisCpu: number;
}

let userCounter = 0;

/** Keeps `inFlight` calls of `group` fresh-user placements going for durationMs. */
export async function luaPoint(bench: Bench, o: { group: number; inFlight: number; autoPipelining: boolean; durationMs: number }): Promise<LuaPoint> {
  await bench.flush();
  const redis = scriptRedis(bench.redis.url, o.autoPipelining);
  await redis.ping();
  const lat: number[] = [];
  let placements = 0;
  let calls = 0;
  const meter = cpuMeter({ redis: bench.redis.process.pid });
  const start = performance.now();
  const end = start + o.durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const group: Placement[] = new Array(o.group);
      for (let i = 0; i < o.group; i++) {
        const u = userCounter++;
        group[i] = { x: u % 1000, y: (u >>> 10) % 1000, color: u % 16, userId: `b${u}` };
      }
      const t = performance.now();
      const out = await placeGroup(redis, group);
      lat.push(performance.now() - t);
      placements += out.filter((r) => r > 0).length;
      calls++;
    }
  };
  await Promise.all(Array.from({ length: o.inFlight }, worker));
  const wall = (performance.now() - start) / 1000;
  const cpu = meter();
  redis.disconnect();
  lat.sort((a, b) => a - b);
  return {
    group: o.group,
    inFlight: o.inFlight,
    autoPipelining: o.autoPipelining,
    placementsPerS: placements / wall,
    callsPerS: calls / wall,
    p99: lat[Math.floor(lat.length * 0.99)] ?? NaN,
    redisCpu: cpu.redis,
  };
}
