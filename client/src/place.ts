// Placing a pixel: shown at once, sent over the socket, kept on screen until its seq arrives in the
// stream (then the truth shows the same colour, or whoever placed after us), rolled back if refused.
import type { Board } from './board.js';
import type { ServerText } from './net.js';

export type PlaceOutcome =
  | { ok: true; id: number }
  | { ok: false; reason: 'cooldown'; retryInMs: number }
  | { ok: false; reason: 'offline' };

export interface PlacerEvents {
  /** The next placement is allowed at this local time (Date.now() ms); 0 = now. */
  onCooldown(nextAt: number): void;
  /** The server refused a placement (already rolled back), or did not answer. */
  onRefused(code: string, message: string, retryAfterMs?: number): void;
  onAccepted(x: number, y: number, color: number, seq: number): void;
}

interface InFlight {
  index: number;
  x: number;
  y: number;
  color: number;
  timer: ReturnType<typeof setTimeout>;
}

const ANSWER_TIMEOUT_MS = 15_000;
const STORAGE_KEY = 'tessera.nextPlacementAt';

export class Placer {
  /** Local Date.now() at which the server will accept our next placement, as far as we know. */
  nextAt = 0;
  private nextId = 1;
  private readonly inFlight = new Map<number, InFlight>();
  /** Acknowledged placements whose seq has not reached the board yet: seq → pixel index. */
  private readonly acked = new Map<number, { index: number; id: number }>();
  /** Which placement currently owns a pixel's optimistic colour, so an older answer cannot clear a newer one. */
  private readonly owner = new Map<number, number>();
  private lastSeq = 0;

  constructor(
    private readonly board: Board,
    private readonly send: (text: string) => boolean,
    private cooldownMs: number,
    private readonly events: PlacerEvents,
  ) {
    // A reload during the cooldown keeps the countdown (the server would refuse us anyway).
    const saved = Number(safeStorage()?.getItem(STORAGE_KEY));
    if (saved > Date.now()) this.nextAt = Math.min(saved, Date.now() + cooldownMs);
  }

  /** The moderators changed the cooldown: it applies from the next placement (a wait already given stays). */
  setCooldown(ms: number): void {
    this.cooldownMs = ms;
  }

  get coolingDown(): boolean {
    return this.nextAt > Date.now();
  }

  place(x: number, y: number, color: number): PlaceOutcome {
    const now = Date.now();
    if (this.nextAt > now) return { ok: false, reason: 'cooldown', retryInMs: this.nextAt - now };
    const id = this.nextId++;
    if (!this.send(JSON.stringify({ t: 'place', id, x, y, color }))) return { ok: false, reason: 'offline' };
    const index = y * this.board.width + x;
    const timer = setTimeout(() => this.giveUp(id), ANSWER_TIMEOUT_MS);
    this.inFlight.set(id, { index, x, y, color, timer });
    this.owner.set(index, id);
    this.board.showOptimistic(index, color);
    // Assume the cooldown starts now; the ack corrects it.
    if (this.cooldownMs > 0) this.setNextAt(now + this.cooldownMs);
    return { ok: true, id };
  }

  /** Handles ack/error messages; returns false for messages that are not about placements. */
  onText(msg: ServerText): boolean {
    if (msg.t !== 'ack' && msg.t !== 'error') return false;
    const id = typeof msg.id === 'number' ? msg.id : -1;
    const p = this.inFlight.get(id);
    if (p) {
      clearTimeout(p.timer);
      this.inFlight.delete(id);
    }
    if (msg.t === 'ack') {
      if (typeof msg.nextPlacementAt === 'number') {
        // The server's clock may differ from ours: trust its cooldown length more than its timestamp.
        const left = Math.min(Math.max(0, msg.nextPlacementAt - Date.now()), this.cooldownMs);
        this.setNextAt(left > 0 ? Date.now() + left : 0);
      }
      if (p && typeof msg.seq === 'number') {
        this.events.onAccepted(p.x, p.y, p.color, msg.seq);
        if (msg.seq <= this.lastSeq) this.release(p.index, id);
        else this.acked.set(msg.seq, { index: p.index, id });
      }
      return true;
    }
    if (p) this.release(p.index, id);
    const code = msg.error ?? 'error';
    // A young session's warm-up (warming_up) counts down like a cooldown.
    if (code === 'cooldown' || code === 'warming_up') {
      this.setNextAt(Date.now() + Math.max(0, msg.retryAfterMs ?? this.cooldownMs));
    } else if (p && this.cooldownMs > 0) {
      this.setNextAt(0); // refused for another reason: the cooldown we assumed did not start
    }
    this.events.onRefused(code, msg.message ?? '', msg.retryAfterMs);
    return true;
  }

  /** The board has every seq up to lastSeq: acknowledged placements up to it are in the truth now. */
  onApplied(lastSeq: number): void {
    this.lastSeq = lastSeq;
    if (this.acked.size === 0) return;
    for (const [seq, a] of this.acked) {
      if (seq <= lastSeq) {
        this.acked.delete(seq);
        this.release(a.index, a.id);
      }
    }
  }

  /** The socket closed: unanswered placements may or may not have landed; the resumed stream will tell. */
  onClosed(): void {
    for (const [id, p] of this.inFlight) {
      clearTimeout(p.timer);
      this.release(p.index, id);
    }
    const hadUnanswered = this.inFlight.size > 0;
    this.inFlight.clear();
    if (hadUnanswered && this.cooldownMs > 0) this.setNextAt(0);
  }

  private giveUp(id: number): void {
    const p = this.inFlight.get(id);
    if (!p) return;
    this.inFlight.delete(id);
    this.release(p.index, id);
    this.events.onRefused('timeout', 'The server did not answer; your pixel may not have been placed.');
  }

  private release(index: number, id: number): void {
    if (this.owner.get(index) !== id) return;
    this.owner.delete(index);
    this.board.clearOptimistic(index);
  }

  private setNextAt(at: number): void {
    this.nextAt = at;
    safeStorage()?.setItem(STORAGE_KEY, String(at));
    this.events.onCooldown(at);
  }
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled (privacy settings): the countdown just does not survive a reload
  }
}
