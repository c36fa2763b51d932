// Latency percentiles, and CPU / RSS of processes read from /proc (the box's processes are separate).
import { readFileSync } from 'node:fs';

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function percentiles(values: ArrayLike<number>): Percentiles {
  const a = Float64Array.from(values).sort();
  const at = (q: number) => (a.length ? a[Math.min(a.length - 1, Math.floor(q * a.length))] : NaN);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i];
  return { n: a.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: a.length ? a[a.length - 1] : NaN, mean: a.length ? sum / a.length : NaN };
}

/** A histogram with fixed-width buckets, cheap enough to fill millions of times per second and merge. */
export class Histogram {
  readonly counts: Uint32Array;
  constructor(
    readonly bucketMs: number,
    readonly maxMs: number,
  ) {
    this.counts = new Uint32Array(Math.ceil(maxMs / bucketMs) + 1);
  }
  add(ms: number): void {
    const i = ms <= 0 ? 0 : Math.min(this.counts.length - 1, Math.floor(ms / this.bucketMs));
    this.counts[i]++;
  }
  merge(counts: ArrayLike<number>): void {
    for (let i = 0; i < counts.length; i++) this.counts[i] += counts[i];
  }
  get total(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }
  /** Upper edge of the bucket holding quantile q. */
  quantile(q: number): number {
    const total = this.total;
    if (!total) return NaN;
    const target = Math.ceil(q * total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= target) return (i + 1) * this.bucketMs;
    }
    return this.maxMs;
  }
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime of a process in ms (0 when it is gone). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** Resident set size in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * CPU used by each pid between the call and the returned function's call, as a share of one core; plus
 * `machine`, what the whole box used in cores (so that machine − ours = other people's work meanwhile).
 */
export function cpuMeter(pids: Record<string, number | undefined>) {
  const t0 = performance.now();
  const m0 = cpuTimes();
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, p ? cpuMs(p) : 0]));
  return () => {
    const wall = performance.now() - t0;
    const m1 = cpuTimes();
    const out = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, p ? (cpuMs(p) - c0[k]) / wall : 0])) as Record<string, number>;
    out.machine = ((m1.total - m1.idle - (m0.total - m0.idle)) * TICK_MS) / wall;
    return out;
  };
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

function cpuTimes(): { idle: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}

/** Share of the machine's CPU (all cores) that was idle over the next `ms`. */
export async function idleShare(ms = 1000): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

/**
 * Waits (up to maxWaitMs) until the machine is at least `minIdle` idle for two 1-s samples in a row: other
 * people's test runs on the same 2 cores would otherwise be measured as our slowness. Returns the wait, s.
 */
export async function waitQuiet(minIdle: number, maxWaitMs: number): Promise<{ waitedS: number; idle: number }> {
  const t0 = performance.now();
  let streak = 0;
  let idle = 0;
  while (performance.now() - t0 < maxWaitMs) {
    idle = await idleShare(1000);
    streak = idle >= minIdle ? streak + 1 : 0;
    if (streak >= 2) break;
  }
  return { waitedS: (performance.now() - t0) / 1000, idle };
}
