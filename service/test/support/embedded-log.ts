// The embedded store's DATA_DIR from a test's side: hand-written placements.log records (whole, torn, damaged),
// what the log holds, and what a running service says about the board and a pixel.
import { join } from 'node:path';
import { encodeRecords, readPlacements } from '../../src/store/placement-log.js';
import type { Placement } from '../../src/store/store.js';

export const WIDTH = 100; // testEnv's canvas

export function logPath(dataDir: string): string {
  return join(dataDir, 'placements.log');
}

/** A placement made up for a hand-written log. */
export function handPlacement(seq: number): Placement {
  return { seq, x: seq % WIDTH, y: 7, color: (seq % 15) + 1, userId: `hand-${seq}`, placedAt: Date.now() - 1000 };
}

export function record(p: Placement): Buffer {
  return encodeRecords([p]);
}

/** Every placement the log holds, as the local history reads it. */
export function logged(dataDir: string): Placement[] {
  const out: Placement[] = [];
  readPlacements(logPath(dataDir), (p) => out.push(p));
  return out;
}

export async function board(base: string): Promise<{ seq: number; bytes: Buffer }> {
  const r = await fetch(`${base}/api/board`);
  if (r.status !== 200) throw new Error(`board: ${r.status}`);
  return { seq: Number(r.headers.get('x-canvas-seq')), bytes: Buffer.from(await r.arrayBuffer()) };
}

/** The colour of one pixel in the board bytes (two pixels a byte, the first in the high nibble). */
export function colourAt(bytes: Buffer, x: number, y: number): number {
  const i = y * WIDTH + x;
  return i % 2 === 0 ? bytes[i >> 1] >> 4 : bytes[i >> 1] & 0x0f;
}

export interface PixelHistoryBody {
  seq: number;
  color: number;
  userId: string;
  history: { seq: number; color: number; userId: string; placedAt: number }[];
}

export async function pixelHistory(base: string, x: number, y: number, limit = 50): Promise<PixelHistoryBody | undefined> {
  const r = await fetch(`${base}/api/pixel?x=${x}&y=${y}&limit=${limit}`);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`pixel ${x},${y}: ${r.status}`);
  return (await r.json()) as PixelHistoryBody;
}
