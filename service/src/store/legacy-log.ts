// One-time conversion of a placements.log written before records carried a length and checksum (plain
// NDJSON, one placement a line) into the checksummed format, so every later reader knows one format only.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import { fsyncDir } from './atomic-file.js';
import { decodePlacement, encodeRecords, LogCorruptError } from './placement-log.js';
import type { Placement } from './store.js';

const CHUNK = 8 << 20;
const OPEN_BRACE = 0x7b;
const NEWLINE = 0x0a;

/** Old logs start with a JSON object; checksummed ones with "P ". */
export function isLegacyLog(path: string): boolean {
  if (!existsSync(path)) return false;
  const fd = openSync(path, 'r');
  try {
    const first = Buffer.alloc(1);
    return readSync(fd, first, 0, 1, 0) === 1 && first[0] === OPEN_BRACE;
  } finally {
    closeSync(fd);
  }
}

/**
 * Rewrites the legacy log at `path` in place (atomically: the old file stays until the new one is durable).
 * A torn last line was never acknowledged and is dropped. Old versions appended the next write onto a torn
 * line; the acknowledged placement at the end of such a line is recovered. Any other unreadable line throws.
 */
export function migrateLegacyLog(path: string, log: Logger): number {
  const tmp = path + '.migrating';
  const src = openSync(path, 'r');
  const out = openSync(tmp, 'w');
  let count = 0;
  try {
    const size = fstatSync(src).size;
    let pending: Placement[] = [];
    const flush = () => {
      const data = encodeRecords(pending);
      for (let done = 0; done < data.length; ) done += writeSync(out, data, done, data.length - done);
      pending = [];
    };
    const keep = (p: Placement) => {
      pending.push(p);
      count++;
      if (pending.length >= 10_000) flush();
    };
    const line = (text: Buffer, offset: number, terminated: boolean) => {
      const p = decodePlacement(text);
      if (p) return keep(p);
      if (!terminated) {
        log.warn({ offset, bytes: text.length }, 'dropping the torn last line of a legacy placements.log (never acknowledged)');
        return;
      }
      const glued = text.lastIndexOf('{"seq":');
      const recovered = glued > 0 ? decodePlacement(text.subarray(glued)) : undefined;
      if (!recovered) throw new LogCorruptError(path, offset, 'unreadable line in a pre-checksum log');
      log.warn({ offset, seq: recovered.seq }, 'recovered a placement written onto a torn line of a legacy placements.log');
      keep(recovered);
    };
    const buf = Buffer.alloc(CHUNK);
    let carry = Buffer.alloc(0);
    let carryAt = 0;
    for (let position = 0; position < size; ) {
      const n = readSync(src, buf, 0, Math.min(CHUNK, size - position), position);
      if (n === 0) break;
      let start = 0;
      for (let nl = buf.indexOf(NEWLINE); nl !== -1 && nl < n; nl = buf.indexOf(NEWLINE, start)) {
        const text = carry.length ? Buffer.concat([carry, buf.subarray(start, nl)]) : buf.subarray(start, nl);
        if (text.length) line(text, carry.length ? carryAt : position + start, true);
        carry = Buffer.alloc(0);
        start = nl + 1;
      }
      if (start < n) {
        if (!carry.length) carryAt = position + start;
        carry = Buffer.concat([carry, buf.subarray(start, n)]); // a copy: buf is reused
      }
      position += n;
    }
    if (carry.length) line(carry, carryAt, false);
    flush();
    fsyncSync(out);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    closeSync(out);
    closeSync(src);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
  log.info({ placements: count }, 'converted placements.log to checksummed records');
  return count;
}
