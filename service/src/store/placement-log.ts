// The on-disk format of placements.log, the embedded store's durable record and its history. One record a line:
//
//   P <payload bytes, 8 hex> <CRC32 of the payload, 8 hex> <payload: the placement as JSON>\n
//
// The length and checksum let a reader tell a whole record from a torn or damaged one without parsing it, and
// the line stays readable with `cut -d' ' -f4-`. JSON never holds a raw newline, so records never contain one.
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { Placement } from './store.js';

if (typeof crc32 !== 'function') throw new Error(`placements.log needs zlib.crc32 (Node ≥ 20.15), this is Node ${process.version}`);

const HEADER = 20; // "P " + 8 hex + " " + 8 hex + " "
/** Far above any real placement (≈ 100 bytes); a length beyond it is damage, not a record to wait for. */
export const MAX_PAYLOAD = 64 * 1024;
const CHUNK = 8 << 20;
const P = 0x50;
const SPACE = 0x20;
const NEWLINE = 0x0a;

/** Damage that is not a torn tail (readable records follow it): dropping it would silently lose acknowledged placements. */
export class LogCorruptError extends Error {
  readonly code = 'log_corrupt';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
    /** Where the next readable record starts, when the damage is followed by some. */
    readonly nextRecordAt?: number,
  ) {
    super(
      `${file} is damaged at byte ${offset} (${reason})${nextRecordAt === undefined ? '' : `, and readable records follow at byte ${nextRecordAt}`}: ` +
        `refusing to go on rather than lose placements. Restore the file from a backup, or accept losing every placement ` +
        `from byte ${offset} on with: truncate -s ${offset} ${file}`,
    );
  }
}

export function encodeRecords(placements: readonly Placement[]): Buffer {
  // One string, encoded once: the cheapest way found (zlib.crc32 takes the string and checksums its UTF-8).
  let text = '';
  for (const p of placements) {
    const json = JSON.stringify({ seq: p.seq, x: p.x, y: p.y, color: p.color, userId: p.userId, placedAt: p.placedAt, net: p.net });
    text += `P ${hex8(Buffer.byteLength(json))} ${hex8(crc32(json))} ${json}\n`;
  }
  return Buffer.from(text);
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** The value of 8 lowercase hex digits at buf[at], or -1. */
function readHex8(buf: Buffer, at: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const c = buf[i];
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

type Decoded = { kind: 'ok'; payload: Buffer; next: number } | { kind: 'short' } | { kind: 'bad'; reason: string };

/** The record at buf[pos], looking no further than buf[limit - 1]; 'short' when it may continue past limit. */
function decodeAt(buf: Buffer, pos: number, limit: number): Decoded {
  const avail = limit - pos;
  // A torn header can only be judged once it is whole: check the bytes that are there.
  if (buf[pos] !== P || (avail > 1 && buf[pos + 1] !== SPACE)) return { kind: 'bad', reason: 'no record header' };
  if (avail < HEADER) return { kind: 'short' };
  const length = readHex8(buf, pos + 2);
  const crc = readHex8(buf, pos + 11);
  if (buf[pos + 10] !== SPACE || buf[pos + 19] !== SPACE || length < 0 || crc < 0) return { kind: 'bad', reason: 'malformed record header' };
  if (length > MAX_PAYLOAD) return { kind: 'bad', reason: `record length ${length} is beyond ${MAX_PAYLOAD}` };
  if (avail < HEADER + length + 1) return { kind: 'short' };
  const payload = buf.subarray(pos + HEADER, pos + HEADER + length);
  if (buf[pos + HEADER + length] !== NEWLINE) return { kind: 'bad', reason: 'record not followed by a newline' };
  if (crc32(payload) !== crc) return { kind: 'bad', reason: 'checksum mismatch' };
  return { kind: 'ok', payload, next: pos + HEADER + length + 1 };
}

export interface ScanResult {
  /** End of the last whole record: where the log should end. */
  end: number;
  size: number;
  /** The first damaged or torn record, when the scan stopped before the end of the file. */
  bad?: { offset: number; reason: string };
}

/**
 * Calls fn for each whole record from `from` on, in file order, synchronously. The payload is a view of a
 * reused buffer: parse or copy it inside fn. Stops at the first record that is torn or damaged.
 */
export function scanLog(fd: number, from: number, size: number, fn: (payload: Buffer, start: number, end: number) => void): ScanResult {
  // Room for a chunk and the unfinished record carried before it (at most HEADER + MAX_PAYLOAD + 1 bytes).
  const buf = Buffer.alloc(Math.min(CHUNK, Math.max(size - from, 1)) + MAX_PAYLOAD + HEADER + 1);
  let base = from; // file offset of buf[0]
  let filled = 0;
  let pos = 0;
  for (;;) {
    const eof = base + filled >= size;
    while (pos < filled) {
      const d = decodeAt(buf, pos, filled);
      if (d.kind === 'ok') {
        fn(d.payload, base + pos, base + d.next);
        pos = d.next;
      } else if (d.kind === 'short' && !eof) break;
      else return { end: base + pos, size, bad: { offset: base + pos, reason: d.kind === 'bad' ? d.reason : 'torn record at the end' } };
    }
    if (eof) return { end: base + pos, size };
    // Keep the unfinished record, then fill the rest of the buffer.
    buf.copy(buf, 0, pos, filled);
    base += pos;
    filled -= pos;
    pos = 0;
    const n = readSync(fd, buf, filled, Math.min(buf.length - filled, size - base - filled), base + filled);
    if (n === 0) return { end: base, size, bad: { offset: base, reason: 'file shrank while being read' } };
    filled += n;
  }
}

/**
 * The offset of the first whole record that starts a line after `offset`, or undefined. Tells a torn tail
 * (nothing readable after the damage) from damage in the middle of the log.
 */
export function findRecordAfter(fd: number, offset: number, size: number): number | undefined {
  const window = Buffer.alloc(HEADER + MAX_PAYLOAD + 1);
  const chunk = Buffer.alloc(1 << 20);
  for (let at = offset; at < size; ) {
    const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
    if (n === 0) return undefined;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1 && nl < n; nl = chunk.indexOf(NEWLINE, nl + 1)) {
      const start = at + nl + 1;
      if (start >= size) return undefined;
      const got = readSync(fd, window, 0, Math.min(window.length, size - start), start);
      const d = decodeAt(window, 0, got);
      if (d.kind === 'ok') return start;
    }
    at += n;
  }
  return undefined;
}

export function decodePlacement(payload: Buffer): Placement | undefined {
  let v: Partial<Placement>;
  try {
    v = JSON.parse(payload.toString('utf8')) as Partial<Placement>;
  } catch {
    return undefined;
  }
  const { seq, x, y, color, userId, placedAt, net } = v ?? {};
  if (![seq, x, y, color, placedAt].every(Number.isInteger) || typeof userId !== 'string') return undefined;
  const p: Placement = { seq: seq!, x: x!, y: y!, color: color!, userId, placedAt: placedAt! };
  if (typeof net === 'string') p.net = net;
  return p;
}

/** The placement of a whole record, or LogCorruptError: a checksummed record that is no placement was written so. */
export function placementAt(path: string, payload: Buffer, offset: number): Placement {
  const p = decodePlacement(payload);
  if (!p) throw new LogCorruptError(path, offset, 'the record is not a placement');
  return p;
}

/**
 * Calls fn for the placements at the end of a log already checked up to `end` (by scanLog), newest first,
 * until fn returns false: the recent past without reading the whole log.
 */
export function readBackwards(path: string, fd: number, end: number, fn: (p: Placement) => boolean): void {
  const chunk = Buffer.alloc(Math.min(CHUNK, end));
  let carry = Buffer.alloc(0); // a line whose start lies before the bytes read so far
  for (let pos = end; pos > 0; ) {
    const from = Math.max(0, pos - CHUNK);
    const n = readSync(fd, chunk, 0, pos - from, from);
    const data = carry.length ? Buffer.concat([chunk.subarray(0, n), carry]) : chunk.subarray(0, n);
    // data ends with a newline: `end` and every `from` a line was cut at are record boundaries.
    let e = data.length - 1;
    while (e >= 0) {
      // (A negative offset would make lastIndexOf count from the end.)
      const s = e > 0 ? data.lastIndexOf(NEWLINE, e - 1) + 1 : 0;
      if (s === 0 && from > 0) break;
      if (!fn(placementAt(path, data.subarray(s + HEADER, e), from + s))) return;
      e = s - 1;
    }
    carry = Buffer.from(data.subarray(0, e + 1));
    pos = from;
  }
}

/**
 * Calls fn for every placement in the log at `path`, in seq order, synchronously (the local history reads it so).
 * A torn last record was never acknowledged and is skipped (the store trims it at start); damage with records
 * after it throws LogCorruptError. Returns the count of skipped bytes at the end.
 */
export function readPlacements(path: string, fn: (p: Placement) => void): number {
  if (!existsSync(path)) return 0;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const r = scanLog(fd, 0, size, (payload, start) => fn(placementAt(path, payload, start)));
    if (!r.bad) return 0;
    const next = findRecordAfter(fd, r.bad.offset, size);
    if (next !== undefined) throw new LogCorruptError(path, r.bad.offset, r.bad.reason, next);
    return size - r.bad.offset;
  } finally {
    closeSync(fd);
  }
}
