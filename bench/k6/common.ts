// Shared by the k6 scenarios: settings from the environment, session tokens minted from SESSION_SECRET
// (docs/api.md, "Token format"), the binary update frame, seq-gap tracking and the summary files.
import crypto from 'k6/crypto';
import { MAX_RICE_K, readRice } from '../../service/src/wire/rice.ts';

export function env(name: string, def: string): string {
  const v = __ENV[name];
  return v === undefined || v === '' ? def : v;
}
export function envInt(name: string, def: number): number {
  const v = Number(env(name, String(def)));
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return Math.floor(v);
}

export const BASE_URL = env('BASE_URL', 'http://127.0.0.1:8080').replace(/\/$/, '');
export const WS_URL = BASE_URL.replace(/^http/, 'ws') + '/ws';
export const WIDTH = envInt('CANVAS_WIDTH', 1000);
export const HEIGHT = envInt('CANVAS_HEIGHT', 1000);
/** Seconds, as k6 durations: "60s". */
export const DURATION_S = envInt('DURATION', 60);

const SECRET = env('SESSION_SECRET', '');
const TOKEN_TTL_S = 3600;

/** "<userId>.<expiresAt>.<base64url HMAC-SHA256(secret, userId.expiresAt)>" — what POST /api/session hands out. */
export function mintToken(userId: string, nowMs = Date.now()): string {
  if (SECRET.length < 32) throw new Error('SESSION_SECRET (the service\'s, ≥ 32 bytes) is needed to mint tokens');
  const payload = `${userId}.${Math.floor(nowMs / 1000) + TOKEN_TTL_S}`;
  return `${payload}.${crypto.hmac('sha256', SECRET, payload, 'base64rawurl')}`;
}

/** A per-run prefix, so a rerun against the same canvas does not reuse users still in cooldown. */
export function runId(): string {
  return hex(new Uint8Array(crypto.randomBytes(6)));
}
function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}

export interface Pixel {
  x: number;
  y: number;
  color: number;
}
export function randomPixel(): Pixel {
  return { x: Math.floor(Math.random() * WIDTH), y: Math.floor(Math.random() * HEIGHT), color: Math.floor(Math.random() * 16) };
}
export function entryOf(p: Pixel): number {
  return (p.y * WIDTH + p.x) * 16 + p.color;
}

export interface FrameHeader {
  firstSeq: number;
  /** The frame holds the placements of seqs firstSeq … firstSeq+count−1, as a set sorted by pixel. */
  count: number;
  bytes: Uint8Array;
}

/**
 * The header of an update frame (docs/api.md: byte 0 = 2, first seq u32 LE, count u16 LE, k, Rice-coded
 * body); null if it is not one. Cheap: the body is decoded only by frameEntries, for sockets that need it.
 */
export function decodeFrame(data: ArrayBuffer): FrameHeader | null {
  const bytes = new Uint8Array(data);
  if (bytes.length < 8 || bytes[0] !== 2 || bytes[7] > MAX_RICE_K) return null;
  const view = new DataView(data);
  return { firstSeq: view.getUint32(1, true), count: view.getUint16(5, true), bytes };
}
/** The frame's entries (pixelIndex*16+colour, by pixel), with the service's own bit decoder; null if malformed. */
export function frameEntries(f: FrameHeader): Uint32Array | null {
  const out = new Uint32Array(f.count);
  return readRice(f.bytes, 8, f.bytes.length, f.count, f.bytes[7], out) ? out : null;
}

/** Follows one socket's seqs: each frame must start right after the previous one's last seq. */
export class SeqTracker {
  last = -1;
  gaps = 0;
  dups = 0;
  entries = 0;
  /** Returns [missing, duplicated] entries in this frame. */
  add(firstSeq: number, count: number): [number, number] {
    let missing = 0;
    let dup = 0;
    if (this.last >= 0) {
      if (firstSeq > this.last + 1) missing = firstSeq - this.last - 1;
      else if (firstSeq <= this.last) dup = Math.min(count, this.last - firstSeq + 1);
    }
    this.gaps += missing;
    this.dups += dup;
    this.entries += count - dup;
    this.last = Math.max(this.last, firstSeq + count - 1);
    return [missing, dup];
  }
}

/** handleSummary: the JSON summary into RESULTS_DIR and a short text summary on stdout. */
export function summaryFiles(scenario: string, data: SummaryData): Record<string, string> {
  const dir = env('RESULTS_DIR', 'bench/results');
  const name = env('RESULT_NAME', scenario);
  return { [`${dir}/${name}.json`]: JSON.stringify(data, null, 2), stdout: textSummary(scenario, data) };
}

interface SummaryData {
  metrics: Record<string, { type: string; values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
}

function textSummary(scenario: string, data: SummaryData): string {
  const lines = [`\n${scenario}: ${BASE_URL}`];
  let failed = 0;
  for (const name of Object.keys(data.metrics).sort()) {
    const m = data.metrics[name];
    const v = m.values;
    const fmt = (n: number) => (Math.abs(n) >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toFixed(2));
    const shown =
      m.type === 'trend'
        ? `med=${fmt(v.med)} p(90)=${fmt(v['p(90)'])} p(99)=${fmt(v['p(99)'])} max=${fmt(v.max)} n=${fmt(v.count ?? 0)}`
        : m.type === 'rate'
          ? `${(v.rate * 100).toFixed(3)} %`
          : m.type === 'counter'
            ? `${fmt(v.count)} (${fmt(v.rate)}/s)`
            : `${fmt(v.value ?? v.max ?? 0)}`;
    const th = m.thresholds ? Object.entries(m.thresholds) : [];
    const marks = th.map(([expr, r]) => `${r.ok ? '✓' : '✗'} ${expr}`).join(', ');
    failed += th.filter(([, r]) => !r.ok).length;
    lines.push(`  ${name.padEnd(34)} ${shown}${marks ? `   [${marks}]` : ''}`);
  }
  lines.push(failed ? `  ${failed} threshold(s) FAILED` : '  all thresholds met', '');
  return lines.join('\n');
}
