// A crowd of WebSocket listeners through HAProxy that behave like the browser client: open /ws?since=<seq of
// the board they loaded>, and whenever the socket closes come back with ?since=<last seq seen> after a
// jittered exponential backoff. Each one checks its own stream — every seq once, in order, no gap — and
// every frame against what the other listeners saw for the same seqs. A frame is the set of placements of
// its seqs (sorted by pixel), so entries are checked per frame: badFrames() against the truth.
import WebSocket from 'ws';
import { decodeFrame, type Frame } from '../../../src/wire/frames.js';

export interface ListenerOptions {
  /** ws://host:port of HAProxy */
  wsUrl: string;
  /** http://host:port, for the board refetch after a {"t":"reset"} */
  httpUrl: string;
  count: number;
  /** the seq the listeners start from (X-Canvas-Seq of the board they "loaded") */
  since: number;
  /** Reconnect backoff as the client's (client/src/net.ts: 300 ms doubling, jittered); capped lower to keep tests short. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Listeners that record when each seq arrived (for placement → frame latency). */
  probes?: number;
  /** Never read: pause the socket as soon as it opens (a slow reader). They are not checked for gaps. */
  paused?: boolean;
  /** Come back after a close (default true; slow readers that were dropped stay away). */
  reconnect?: boolean;
}

export interface Gap {
  listener: number;
  after: number;
  got: number;
}

interface State {
  id: number;
  ws: WebSocket | undefined;
  last: number;
  /** seqs received, for the "saw every seq" check */
  received: number;
  gaps: number;
  duplicates: number;
  resets: number;
  opens: number;
  closes: Map<number, number>;
  refused: Map<number, number>;
  attempt: number;
  stableTimer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
  /** for probes: [firstSeq, count, arrival ms] per frame, flattened */
  frames?: number[];
  connected: boolean;
  closedAt: number;
  /** ms from each close to the next successful open */
  downtimes: number[];
  bytes: number;
}

export class ListenerFleet {
  private readonly states: State[] = [];
  private stopped = false;
  /** Every distinct frame any listener received: first seq → count → entries (as first seen). */
  private readonly seen = new Map<number, Map<number, Uint32Array>>();
  /** Undecodable frames, and frames that differ from another listener's frame for the same seqs. */
  mismatches = 0;
  readonly gapLog: Gap[] = [];
  private readonly o: Required<ListenerOptions>;

  constructor(opts: ListenerOptions) {
    this.o = { baseDelayMs: 300, maxDelayMs: 3000, probes: 0, paused: false, reconnect: true, ...opts };
    for (let i = 0; i < opts.count; i++) {
      this.states.push({
        id: i,
        ws: undefined,
        last: opts.since,
        received: 0,
        gaps: 0,
        duplicates: 0,
        resets: 0,
        opens: 0,
        closes: new Map(),
        refused: new Map(),
        attempt: 0,
        frames: i < this.o.probes ? [] : undefined,
        connected: false,
        closedAt: 0,
        downtimes: [],
        bytes: 0,
      });
    }
  }

  /** Opens every listener (a few at a time) and resolves once all are open. */
  async start(timeoutMs = 30_000): Promise<void> {
    for (let i = 0; i < this.states.length; i += 20) {
      for (const s of this.states.slice(i, i + 20)) this.connect(s);
      await new Promise((r) => setTimeout(r, 20));
    }
    const deadline = Date.now() + timeoutMs;
    while (this.states.some((s) => !s.connected)) {
      if (Date.now() > deadline) throw new Error(`only ${this.states.filter((s) => s.connected).length}/${this.states.length} listeners connected`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.states) {
      clearTimeout(s.retryTimer);
      clearTimeout(s.stableTimer);
      s.ws?.removeAllListeners('close');
      s.ws?.on('error', () => {});
      s.ws?.terminate();
    }
  }

  /** The underlying sockets (for slow readers: resume them later to see how the server ended them). */
  sockets(): (WebSocket | undefined)[] {
    return this.states.map((s) => s.ws);
  }

  /** The smallest seq every listener has reached. */
  minLast(): number {
    return Math.min(...this.states.map((s) => s.last));
  }

  /** Resolves with the ms it took until every listener has seen `seq` (and is connected). */
  async waitCaughtUp(seq: number, timeoutMs = 20_000): Promise<number> {
    const started = Date.now();
    while (this.states.some((s) => s.last < seq || !s.connected)) {
      if (Date.now() - started > timeoutMs) {
        const behind = this.states.filter((s) => s.last < seq || !s.connected);
        throw new Error(`${behind.length} listeners not at seq ${seq} after ${timeoutMs} ms, e.g. ${JSON.stringify(behind.slice(0, 3).map((s) => ({ id: s.id, last: s.last, connected: s.connected, opens: s.opens, closes: [...s.closes], refused: [...s.refused] })))}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return Date.now() - started;
  }

  /**
   * Placement → frame latency at the probes: for every seq in `sentAt` (seq → when its PUT was sent), the
   * time until its frame reached each probe. Sorted ascending.
   */
  latencies(sentAt: Map<number, number>): number[] {
    const out: number[] = [];
    for (const s of this.states) {
      const f = s.frames;
      if (!f) continue;
      for (let i = 0; i < f.length; i += 3) {
        for (let seq = f[i]; seq < f[i] + f[i + 1]; seq++) {
          const at = sentAt.get(seq);
          if (at !== undefined) out.push(f[i + 2] - at);
        }
      }
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * Frames that are not the placements of their seqs: every seq s in first…first+count−1 with a known entry
   * (entryOf(s), pixelIndex*16+colour) must be in the frame, and one pixel's entries must be in seq order.
   * When every seq of a frame is known this is the full check: the same multiset in the same per-pixel order.
   */
  badFrames(entryOf: (seq: number) => number | undefined): { checked: number; bad: { firstSeq: number; count: number }[] } {
    let checked = 0;
    const bad: { firstSeq: number; count: number }[] = [];
    for (const [firstSeq, byCount] of this.seen) {
      for (const [count, entries] of byCount) {
        checked++;
        if (!holdsPlacements(entries, firstSeq, entryOf)) bad.push({ firstSeq, count });
      }
    }
    return { checked, bad };
  }

  /**
   * Received frames that cover seqs from+1…to back to back, in seq order (any listener's; frames for the same
   * seqs are equal, see mismatches), and how many seqs at the end no chain of frames reached.
   */
  chain(from: number, to: number): { frames: Frame[]; unseen: number } {
    const deadEnds = new Set<number>();
    const path: Frame[] = [];
    // Longest first: fewer steps, and the usual case is one listener's frames all the way.
    const next = (s: number) => [...(this.seen.get(s)?.keys() ?? [])].filter((c) => s + c - 1 <= to).sort((a, b) => b - a);
    // Depth first without recursion (a chain can be thousands of frames); path holds the edges taken.
    const stack = [{ s: from + 1, counts: next(from + 1), i: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.s > to) return { frames: path, unseen: 0 };
      if (top.i >= top.counts.length) {
        deadEnds.add(top.s);
        stack.pop();
        path.pop();
        continue;
      }
      const count = top.counts[top.i++];
      if (deadEnds.has(top.s + count)) continue;
      path.push({ firstSeq: top.s, count, entries: this.seen.get(top.s)!.get(count)! });
      stack.push({ s: top.s + count, counts: next(top.s + count), i: 0 });
    }
    // No full chain: report the longest stretch from the start that frames cover.
    let reach = from;
    for (let s = from + 1; s <= reach + 1 && s <= to; s++) {
      for (const count of this.seen.get(s)?.keys() ?? []) reach = Math.max(reach, Math.min(to, s + count - 1));
    }
    return { frames: [], unseen: to - reach };
  }

  stats() {
    const sum = (f: (s: State) => number) => this.states.reduce((n, s) => n + f(s), 0);
    const codes = new Map<number, number>();
    const refused = new Map<number, number>();
    for (const s of this.states) {
      for (const [c, n] of s.closes) codes.set(c, (codes.get(c) ?? 0) + n);
      for (const [c, n] of s.refused) refused.set(c, (refused.get(c) ?? 0) + n);
    }
    const downtimes = this.states.flatMap((s) => s.downtimes).sort((a, b) => a - b);
    return {
      listeners: this.states.length,
      connected: this.states.filter((s) => s.connected).length,
      gaps: sum((s) => s.gaps),
      duplicates: sum((s) => s.duplicates),
      resets: sum((s) => s.resets),
      mismatches: this.mismatches,
      /** listeners that were disconnected at least once */
      reconnected: this.states.filter((s) => s.opens > 1).length,
      reconnects: sum((s) => s.opens - 1),
      closeCodes: Object.fromEntries(codes),
      refusedUpgrades: Object.fromEntries(refused),
      maxDowntimeMs: downtimes[downtimes.length - 1] ?? 0,
      p50DowntimeMs: downtimes[Math.floor(downtimes.length / 2)] ?? 0,
      minLast: this.minLast(),
      maxLast: Math.max(...this.states.map((s) => s.last)),
      bytes: sum((s) => s.bytes),
    };
  }

  private connect(s: State): void {
    if (this.stopped) return;
    const ws = new WebSocket(`${this.o.wsUrl}/ws?since=${s.last}`, { perMessageDeflate: false });
    s.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      // A slow reader: from now on nothing is read from the socket; the kernel buffers fill, then the server's.
      if (this.o.paused) ws.pause();
      s.connected = true;
      s.opens++;
      if (s.closedAt) s.downtimes.push(Date.now() - s.closedAt);
      s.closedAt = 0;
      clearTimeout(s.stableTimer);
      s.stableTimer = setTimeout(() => (s.attempt = 0), 5000);
    });
    ws.on('unexpected-response', (_req, res) => {
      s.refused.set(res.statusCode ?? 0, (s.refused.get(res.statusCode ?? 0) ?? 0) + 1);
      res.resume();
      ws.removeAllListeners('close');
      ws.on('error', () => {});
      ws.terminate();
      this.retry(s);
    });
    ws.on('error', () => {
      /* 'close' follows (or unexpected-response handled it) */
    });
    ws.on('message', (data: Buffer, isBinary) => {
      s.bytes += data.length;
      if (!isBinary) {
        let msg: { t?: string };
        try {
          msg = JSON.parse(data.toString());
        } catch {
          return;
        }
        if (msg.t === 'reset') {
          // The client refetches the board and resumes from its seq.
          s.resets++;
          void this.refetch(s, ws);
        }
        return;
      }
      const frame = decodeFrame(data);
      if (!frame) {
        this.mismatches++;
        return;
      }
      const now = Date.now();
      for (let seq = frame.firstSeq; seq < frame.firstSeq + frame.count; seq++) {
        if (seq <= s.last) {
          s.duplicates++;
          continue;
        }
        if (seq !== s.last + 1) {
          s.gaps++;
          if (this.gapLog.length < 50) this.gapLog.push({ listener: s.id, after: s.last, got: seq });
        }
        s.last = seq;
        s.received++;
      }
      this.check(frame);
      s.frames?.push(frame.firstSeq, frame.count, now);
    });
    ws.on('close', (code) => {
      if (s.ws !== ws) return;
      s.connected = false;
      s.closedAt = Date.now();
      s.closes.set(code, (s.closes.get(code) ?? 0) + 1);
      clearTimeout(s.stableTimer);
      this.retry(s);
    });
  }

  private async refetch(s: State, ws: WebSocket): Promise<void> {
    try {
      const r = await fetch(`${this.o.httpUrl}/api/board`);
      await r.arrayBuffer();
      const seq = Number(r.headers.get('x-canvas-seq'));
      if (r.status === 200 && Number.isFinite(seq)) s.last = seq;
    } catch {
      /* keep the last seq: the reconnect below asks again */
    }
    if (s.ws === ws) {
      ws.removeAllListeners('close');
      ws.terminate();
      s.connected = false;
      s.closedAt = Date.now();
      this.connect(s);
    }
  }

  private retry(s: State): void {
    if (this.stopped || (!this.o.reconnect && s.opens > 0)) return;
    s.connected = false;
    if (!s.closedAt) s.closedAt = Date.now();
    const cap = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** s.attempt);
    const delay = Math.round(cap / 2 + (Math.random() * cap) / 2);
    s.attempt++;
    clearTimeout(s.retryTimer);
    s.retryTimer = setTimeout(() => this.connect(s), delay);
  }

  /** Frames for the same seqs must be equal byte for byte in content (the encoder is deterministic). */
  private check(frame: Frame): void {
    let byCount = this.seen.get(frame.firstSeq);
    if (!byCount) this.seen.set(frame.firstSeq, (byCount = new Map()));
    const ref = byCount.get(frame.count);
    if (!ref) byCount.set(frame.count, frame.entries);
    else if (ref.some((e, i) => e !== frame.entries[i])) this.mismatches++;
  }
}

/** See ListenerFleet.badFrames: the known placements of seqs first… are in the frame, per pixel in seq order. */
export function holdsPlacements(entries: Uint32Array, firstSeq: number, entryOf: (seq: number) => number | undefined): boolean {
  // The known colours of each pixel in seq order must be a subsequence of the frame's colours for that pixel.
  const want = new Map<number, number[]>();
  let known = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entryOf(firstSeq + i);
    if (e === undefined) continue;
    known++;
    const list = want.get(Math.floor(e / 16));
    if (list) list.push(e % 16);
    else want.set(Math.floor(e / 16), [e % 16]);
  }
  const matched = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    const pixel = entries[i] >>> 4;
    const list = want.get(pixel);
    const at = matched.get(pixel) ?? 0;
    if (list && at < list.length && list[at] === (entries[i] & 15)) {
      matched.set(pixel, at + 1);
      total++;
    }
  }
  return total === known;
}
