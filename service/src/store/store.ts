// The store interface: the board, its seq, cooldowns and the recent placements, in Redis or in-process.
import type { FenceStatus } from './fence.js';

export interface Placement {
  seq: number;
  x: number;
  y: number;
  color: number;
  userId: string;
  /** epoch ms */
  placedAt: number;
  /** The placer's network prefix hash (network-prefix.ts), for moderation; absent on older placements. */
  net?: string;
}

export interface PlaceRequest {
  x: number;
  y: number;
  color: number;
  userId: string;
  /** The placer's network prefix hash, kept with the placement in the stream and the history. */
  net?: string;
}

export type PlaceResult =
  | { ok: true; seq: number; nextPlacementAt: number }
  | { ok: false; error: 'cooldown'; retryAfterMs: number }
  | { ok: false; error: 'banned' }
  | { ok: false; error: 'unavailable'; reason: string };

export interface BoardSnapshot {
  /** ceil(W*H/2) bytes, BITFIELD u4 layout */
  bytes: Buffer;
  /** seq of the last placement included */
  seq: number;
}

/** A run of consecutive placements as the wire carries them: entries[i] = pixelIndex*16+colour for seq firstSeq+i. */
export interface Run {
  firstSeq: number;
  entries: Uint32Array;
}

export interface ModerationRecord {
  at: number;
  action: 'ban' | 'unban' | 'rollback' | 'controls';
  [key: string]: unknown;
}

export type SinceResult = { ok: true; placements: Placement[] } | { ok: false; reason: 'too_old' };

export interface CanvasStore {
  /** Atomically checks the user's cooldown, sets the pixel, assigns the next seq and publishes it. */
  place(req: PlaceRequest, cooldownMs?: number): Promise<PlaceResult>;
  /** The board bytes and the seq they include, read atomically. */
  board(): Promise<BoardSnapshot>;
  /** The last assigned seq (0 on a fresh canvas). */
  headSeq(): Promise<number>;
  /** Placements with seq > after, oldest first, at most limit; too_old when the resume window no longer holds after+1. */
  since(after: number, limit: number): Promise<SinceResult>;
  /**
   * Live placements in seq order as they are accepted. onResubscribed fires after the live feed
   * was interrupted and restored, so the caller can backfill what it may have missed.
   */
  subscribe(onRun: (run: Run) => void, onResubscribed: () => void): void;
  /** Bans and unbans (moderation); banned users' placements are refused. */
  setBanned(userId: string, banned: boolean): Promise<void>;
  /** Appends a moderation action to the permanent moderation log. */
  recordModeration(action: ModerationRecord): Promise<void>;
  /** The moderation log, newest first. */
  moderationLog(limit: number): Promise<ModerationRecord[]>;
  /** True while the store can accept placements and the live feed is up. */
  ready(): boolean;
  /** Set while the seq fence stops placements (Redis lost acknowledged writes; store/fence.ts). */
  fenced?(): FenceStatus | undefined;
  /**
   * The canvas was restored after a data loss: the seq jumped past everything handed out before, and placements
   * published earlier may be void. Listeners must refetch the board.
   */
  onRestored?(fn: () => void): void;
  close(): Promise<void>;
}

export function pixelIndex(x: number, y: number, width: number): number {
  return y * width + x;
}

export function boardBytes(width: number, height: number): number {
  return Math.ceil((width * height) / 2);
}
