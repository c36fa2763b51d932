// The watchers phase's figures: placement → frame latency joined from the driver's seqs and the listeners'
// frame records, the per-step table, and the done-when checks.
import { readFileSync } from 'node:fs';
import { Histogram } from './stats.js';
import { fmt, table } from './table.js';

export interface WatchersPoint {
  server: 'tessera' | 'bare';
  watchers: number;
  connected: number;
  failedToOpen: number;
  closed: number;
  windowS: number;
  placementsPerS: number;
  putP99: number;
  /** PUTs due but still waiting for a free connection when the window ended. */
  driverBacklog: number;
  p50: number;
  p99: number;
  /** (sampled socket, seq) pairs timed, and their share of what the sampled sockets should have received. */
  latencyPairs: number;
  sampleDelivered: number;
  framesPerS: number;
  textsPerS: number;
  bytesPerSPerWatcher: number;
  bytesPerEntry: number;
  cpu: { server: number; redis: number; driver: number; listeners: number; others: number };
  serverRssMiB: number;
  gapFree: number;
  gaps: number;
  dups: number;
  missing: number;
  /** tessera_frame_interval_ms at the window's end (Tessera, when the gauge exists). */
  frameIntervalMs: number | null;
  pinned: boolean;
  error?: string;
}

const RECORD_BYTES = 14;

/**
 * Latency of every (sampled socket, seq) pair whose placement was written in [from, to): a frame arriving
 * at t with seqs a…a+count−1 gives t − placedAt[s] for each s. placedAt: seq → wall ms.
 */
export function frameLatency(files: string[], placedAt: Map<number, number>, from: number, to: number) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const [seq, at] of placedAt) if (at >= from && at < to) (lo = Math.min(lo, seq)), (hi = Math.max(hi, seq));
  const hist = new Histogram(0.5, 120_000);
  if (!Number.isFinite(lo)) return { p50: NaN, p99: NaN, pairs: 0, seqs: 0 };
  const at = new Float64Array(hi - lo + 1).fill(NaN);
  let seqs = 0;
  for (const [seq, t] of placedAt) if (t >= from && t < to) (at[seq - lo] = t), seqs++;
  let pairs = 0;
  for (const f of files) {
    let buf: Buffer;
    try {
      buf = readFileSync(f);
    } catch {
      continue;
    }
    for (let off = 0; off + RECORD_BYTES <= buf.length; off += RECORD_BYTES) {
      const first = buf.readUInt32LE(off);
      const count = buf.readUInt16LE(off + 4);
      const ms = (buf.readUInt32LE(off + 6) + buf.readUInt32LE(off + 10) * 2 ** 32) / 1e6;
      for (let s = Math.max(first, lo), end = Math.min(first + count - 1, hi); s <= end; s++) {
        const placed = at[s - lo];
        if (placed === placed) hist.add(ms - placed), pairs++;
      }
    }
  }
  return { p50: hist.quantile(0.5), p99: hist.quantile(0.99), pairs, seqs };
}

/** tessera_frame_interval_ms from /metrics text, or null when the gauge is absent. */
export function frameIntervalFrom(metrics: string): number | null {
  const m = /^tessera_frame_interval_ms(?:\{[^}]*\})?\s+(\S+)/m.exec(metrics);
  return m ? Number(m[1]) : null;
}

const HEAD = ['server', 'watchers', 'placements/s', 'p50 ms', 'p99 ms', 'frames/s', 'B/s per watcher', 'B/entry', 'server %cpu', 'RSS MiB', 'listeners %cpu', 'gap-free', 'gaps', 'dups', 'frame interval ms', 'note'];

export function watchersRow(p: WatchersPoint): string[] {
  const note = [
    p.error ? `error: ${p.error}` : '',
    p.failedToOpen ? `${fmt(p.failedToOpen)} failed to open` : '',
    p.closed ? `${fmt(p.closed)} closed` : '',
    p.sampleDelivered < 0.999 ? `sample got ${fmt(p.sampleDelivered * 100, 1)} % of pairs` : '',
    p.driverBacklog ? `driver ${fmt(p.driverBacklog)} behind` : '',
    p.cpu.others > 0.1 ? `others ${fmt(p.cpu.others * 100)} %cpu` : '',
    p.pinned ? '' : 'not pinned',
  ].filter(Boolean).join('; ');
  return [
    p.server,
    `${fmt(p.connected)}/${fmt(p.watchers)}`,
    fmt(p.placementsPerS),
    fmt(p.p50, 1),
    fmt(p.p99, 1),
    fmt(p.framesPerS),
    fmt(p.bytesPerSPerWatcher),
    fmt(p.bytesPerEntry, 2),
    fmt(p.cpu.server * 100),
    fmt(p.serverRssMiB, 1),
    fmt(p.cpu.listeners * 100),
    `${fmt((p.gapFree / p.watchers) * 100, 1)} %`,
    fmt(p.gaps),
    fmt(p.dups),
    p.frameIntervalMs === null ? '-' : fmt(p.frameIntervalMs, 1),
    note,
  ];
}

export function watchersTable(points: WatchersPoint[]): string {
  return table(HEAD, points.map(watchersRow));
}

/** Rows for the bench's summary table: figure, measured, against, ratio, target. */
export function watchersChecks(points: WatchersPoint[]): string[][] {
  const rows: string[][] = [];
  const find = (server: string, n: number) => points.find((p) => p.server === server && p.watchers === n && !p.error);
  const t18 = find('tessera', 18_000);
  if (t18) {
    const met = t18.gapFree === 18_000 && t18.gaps === 0 && t18.dups === 0 && t18.p99 <= 1000;
    rows.push(['Watchers: Tessera at 18,000, 1 core', `${fmt(t18.gapFree)} gap-free, p99 ${fmt(t18.p99, 1)} ms`, 'gaps/dups', `${fmt(t18.gaps)} / ${fmt(t18.dups)}`, `all gap-free, no dups, p99 ≤ 1,000 ms: ${met ? 'met' : 'MISSED'}`]);
  } else rows.push(['Watchers: Tessera at 18,000, 1 core', 'not run', '', '', 'all gap-free, no dups, p99 ≤ 1,000 ms']);
  const t1 = find('tessera', 1000);
  const b1 = find('bare', 1000);
  if (t1 && b1) {
    rows.push(['Watchers: 1,000, p99 vs bare', `${fmt(t1.p99, 1)} ms (bare ${fmt(b1.p99, 1)})`, 'vs bare', fmt(t1.p99 / b1.p99, 2) + '×', `≤ 1.2×: ${t1.p99 <= 1.2 * b1.p99 ? 'met' : 'MISSED'}`]);
  } else rows.push(['Watchers: 1,000, p99 vs bare', 'not run', '', '', '≤ 1.2×']);
  return rows;
}
