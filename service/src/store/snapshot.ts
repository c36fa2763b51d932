// snapshot.bin: the board as of one seq and where placements.log stood then, so a restart replays only what
// came after it. Only a shortcut: placements.log alone rebuilds everything, which is what a restart does when
// the snapshot is missing, torn or does not line up with the log.
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from '../log.js';
import { writeFileAtomic } from './atomic-file.js';

const MAGIC = 0x31525354; // "TSR1"
const HEADER = 32; // magic u32, width u32, height u32, seq u64, log offset u64, 4 bytes unused

export interface Snapshot {
  /** The seq of the last placement in the board. */
  seq: number;
  /** The end of that placement's record in placements.log. */
  logOffset: number;
  pixels: Buffer;
}

/** A wrong canvas size is a configuration mistake, not damage: replaying the log onto another size would garble it. */
export class SnapshotSizeError extends Error {
  readonly code = 'snapshot_size';
}

export function readSnapshot(path: string, width: number, height: number, bytes: number, log: Logger): Snapshot | undefined {
  if (!existsSync(path)) return undefined;
  const snap = readFileSync(path);
  if (snap.length < HEADER || snap.readUInt32LE(0) !== MAGIC) {
    log.warn({ path, bytes: snap.length }, 'ignoring an unreadable board snapshot; rebuilding from placements.log');
    return undefined;
  }
  const w = snap.readUInt32LE(4);
  const h = snap.readUInt32LE(8);
  if (w !== width || h !== height) {
    throw new SnapshotSizeError(`${path} is for a ${w}×${h} canvas, not ${width}×${height}; move DATA_DIR aside or fix CANVAS_WIDTH/HEIGHT`);
  }
  if (snap.length !== HEADER + bytes) {
    log.warn({ path, bytes: snap.length, expected: HEADER + bytes }, 'ignoring a torn board snapshot; rebuilding from placements.log');
    return undefined;
  }
  return { seq: Number(snap.readBigUInt64LE(12)), logOffset: Number(snap.readBigUInt64LE(20)), pixels: snap.subarray(HEADER) };
}

/** Atomic and durable. The caller makes the log durable up to logOffset first, so the snapshot is never ahead of it. */
export async function writeSnapshot(path: string, width: number, height: number, snap: Snapshot): Promise<void> {
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(width, 4);
  header.writeUInt32LE(height, 8);
  header.writeBigUInt64LE(BigInt(snap.seq), 12);
  header.writeBigUInt64LE(BigInt(snap.logOffset), 20);
  await writeFileAtomic(path, Buffer.concat([header, snap.pixels]));
}
