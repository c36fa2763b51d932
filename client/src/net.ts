// The WebSocket: opens /ws?since=<seq>, hands frames and messages up, and comes back by itself with
// exponential backoff. Which seq to resume from is asked fresh on every (re)connect. Paused (a hidden tab),
// it stays closed until resumed.
import { CLOSE_HIDDEN, CLOSE_TOO_MANY_SOCKETS } from '../../service/src/wire/close-codes.js';
import { decodeFrame, type Frame } from '../../service/src/wire/frames.js';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'paused';

export interface ServerText {
  t: string;
  id?: unknown;
  seq?: number;
  nextPlacementAt?: number;
  error?: string;
  message?: string;
  retryAfterMs?: number;
  intervalMs?: number;
  /** {"t":"controls"}: the moderators' live controls (controls.ts). */
  cooldownMs?: number;
  frozen?: boolean;
  onlyColor?: number | null;
}

export interface SocketHandlers {
  since(): number;
  onFrame(frame: Frame): void;
  onText(msg: ServerText): void;
  /** `retryInMs` is set while waiting to reconnect. */
  onState(state: ConnectionState, retryInMs?: number): void;
  /** The socket closed (any reason): placements in flight will never be answered on it. */
  onClosed(): void;
}

const BASE_DELAY_MS = 300;
const MAX_DELAY_MS = 10_000;
/** A connection that stayed up this long was healthy: the next drop starts the backoff afresh. */
const STABLE_MS = 5_000;

export class Socket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  private paused = false;
  private lastImmediate = 0;
  opens = 0;

  constructor(
    private readonly url: (since: number) => string,
    private readonly h: SocketHandlers,
  ) {
    window.addEventListener('offline', () => {
      // Browsers often keep a dead socket open for minutes; drop it so the status tells the truth.
      if (this.stopped || this.paused) return;
      this.drop();
      this.scheduleRetry();
    });
    window.addEventListener('online', () => {
      if (!this.stopped && !this.paused && this.ws?.readyState !== WebSocket.OPEN) this.reconnectNow();
    });
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.stopped = false;
    if (!this.paused) this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop();
  }

  /**
   * Closes the socket with CLOSE_HIDDEN and opens none until resume(): a hidden tab costs the server nothing.
   * Also holds back a start() that comes meanwhile (the end of a reset's reload).
   */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    clearTimeout(this.retryTimer);
    this.drop(CLOSE_HIDDEN, 'hidden');
    this.h.onState('paused');
  }

  /** Reconnects with ?since=<the last applied seq>, as after any drop, unless stopped meanwhile. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.attempt = 0;
    if (!this.stopped) this.connect();
  }

  /** Closes the current socket and opens a new one at once, e.g. after a gap in the seqs. */
  reconnectNow(): void {
    if (this.stopped || this.paused) return;
    clearTimeout(this.retryTimer);
    this.drop();
    // Once is a hiccup; again within a second would be a loop against a misbehaving server: back off.
    const now = Date.now();
    const again = now - this.lastImmediate < 1000;
    this.lastImmediate = now;
    if (again) this.scheduleRetry();
    else this.connect();
  }

  send(text: string): boolean {
    if (!this.open) return false;
    this.ws!.send(text);
    return true;
  }

  private connect(): void {
    // Even when the browser says it is offline we try (navigator.onLine is only a hint), but say so.
    this.h.onState(offline() ? 'offline' : this.opens === 0 ? 'connecting' : 'reconnecting');
    const ws = new WebSocket(this.url(this.h.since()));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.opens++;
      this.h.onState('live');
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => (this.attempt = 0), STABLE_MS);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      if (typeof ev.data === 'string') {
        let msg: ServerText;
        try {
          msg = JSON.parse(ev.data) as ServerText;
        } catch {
          return;
        }
        this.h.onText(msg);
        return;
      }
      const frame = decodeFrame(ev.data as ArrayBuffer);
      if (frame) this.h.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.stableTimer);
      // The network already holds the server's cap of sockets (many tabs behind one address): retry slowly.
      if (ev.code === CLOSE_TOO_MANY_SOCKETS) this.attempt = Math.max(this.attempt, Math.ceil(Math.log2(MAX_DELAY_MS / BASE_DELAY_MS)));
      this.h.onClosed();
      if (!this.stopped && !this.paused) this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    // Jittered, so a restarted server is not greeted by every client in the same millisecond.
    const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(cap / 2 + (Math.random() * cap) / 2);
    this.attempt++;
    // Offline, the 'online' event reconnects at once; the timer is only a fallback.
    if (offline()) this.h.onState('offline');
    else this.h.onState('reconnecting', delay);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private drop(code = 1000, reason = 'client reconnecting'): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    clearTimeout(this.stableTimer);
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(code, reason);
    } catch {
      /* already closing */
    }
    this.h.onClosed();
  }
}

function offline(): boolean {
  return typeof navigator !== 'undefined' && navigator.onLine === false;
}

/** ws:// or wss:// to /ws on the page's own host. */
export function socketUrl(since: number): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws?since=${since}`;
}
