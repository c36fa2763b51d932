// The watchers bench's placement driver: PUT /api/pixel at a paced rate over a few keep-alive sockets, one
// distinct user per placement (no cooldown refusal), keeping each accepted placement's seq and the wall
// time its request was written, so that listeners in other processes can time placement → frame per seq.
import { connect, type Socket } from 'node:net';
import { percentiles, type Percentiles } from '../stats.js';
import { PutRequests } from './requests.js';

interface Conn {
  sock: Socket;
  pending: Buffer | null;
  busy: boolean;
  /** performance.now() and wall ms when the request in flight was written. */
  sentAt: number;
  sentWall: number;
}

export interface DriverWindow {
  /** Accepted placements whose request was written inside the window, per second. */
  rate: number;
  accepted: number;
  refused: Record<string, number>;
  errors: number;
  /** Request → answer, ms. */
  put: Percentiles;
}

export class PlacementDriver {
  /** seq → wall ms (epoch, sub-ms) at which its request was written. */
  readonly placedAt = new Map<number, number>();
  private readonly reqs: PutRequests;
  private conns: Conn[] = [];
  private readonly idle: Conn[] = [];
  private next = 0;
  private started = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Answers as [wall ms written, status, latency ms]. */
  private readonly answers: [number, number, number][] = [];
  private errors = 0;

  constructor(private readonly o: { port: number; rate: number; connections: number; secret: string; userPrefix: string }) {
    this.reqs = new PutRequests(o.secret, o.userPrefix, o.port);
  }

  async start(): Promise<void> {
    this.conns = await Promise.all(
      Array.from({ length: this.o.connections }, () => new Promise<Conn>((resolve, reject) => {
        const sock = connect({ port: this.o.port, host: '127.0.0.1' });
        sock.setNoDelay(true);
        const c: Conn = { sock, pending: null, busy: false, sentAt: 0, sentWall: 0 };
        sock.once('connect', () => resolve(c));
        sock.once('error', reject);
      })),
    );
    for (const c of this.conns) {
      c.sock.on('data', (d: Buffer) => this.onData(c, d));
      c.sock.on('error', () => this.errors++);
      c.sock.on('close', () => {
        if (c.busy) this.errors++;
        c.busy = false;
      });
    }
    this.idle.push(...this.conns);
    this.started = performance.now();
    // Open loop: every 2 ms, send what is due on the free connections.
    this.timer = setInterval(() => this.pump(), 2);
  }

  private due(): number {
    return Math.floor(((performance.now() - this.started) * this.o.rate) / 1000) + 1;
  }

  private pump(): void {
    if (this.stopped) return;
    const due = this.due();
    while (this.next < due && this.idle.length) {
      const c = this.idle.pop()!;
      if (c.sock.destroyed) continue;
      c.busy = true;
      c.sentAt = performance.now();
      c.sentWall = performance.timeOrigin + c.sentAt;
      c.sock.write(this.reqs.random(this.next++));
    }
  }

  private onData(c: Conn, d: Buffer): void {
    let buf = c.pending ? Buffer.concat([c.pending, d]) : d;
    for (;;) {
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd < 0) break;
      const head = buf.toString('latin1', 0, headEnd).toLowerCase();
      const cl = head.indexOf('content-length:');
      const bodyEnd = headEnd + 4 + (cl < 0 ? 0 : parseInt(head.slice(cl + 15), 10));
      if (buf.length < bodyEnd) break;
      const status = Number(buf.toString('latin1', 9, 12));
      const body = buf.toString('utf8', headEnd + 4, bodyEnd);
      buf = buf.subarray(bodyEnd);
      this.answers.push([c.sentWall, status, performance.now() - c.sentAt]);
      if (status === 200) {
        const seq = Number(/"seq":(\d+)/.exec(body)?.[1]);
        if (seq > 0) this.placedAt.set(seq, c.sentWall);
      }
      c.busy = false;
      if (!this.stopped && !c.sock.destroyed) this.idle.push(c);
    }
    c.pending = buf.length ? buf : null;
    this.pump();
  }

  /** What happened to requests written between wall times from and to (ms). */
  window(from: number, to: number): DriverWindow {
    const lat: number[] = [];
    const refused: Record<string, number> = {};
    let accepted = 0;
    for (const [at, status, ms] of this.answers) {
      if (at < from || at >= to) continue;
      lat.push(ms);
      if (status === 200) accepted++;
      else refused[status] = (refused[status] ?? 0) + 1;
    }
    return { rate: (accepted * 1000) / (to - from), accepted, refused, errors: this.errors, put: percentiles(lat) };
  }

  /** Requests due now that still wait for a free connection (the server has fallen behind). */
  backlog(): number {
    return Math.max(0, this.due() - this.next);
  }

  /** Stops sending; waits up to waitMs for the answers in flight, then closes the sockets. */
  async stop(waitMs = 2000): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const deadline = performance.now() + waitMs;
    while (this.conns.some((c) => c.busy) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.conns) c.sock.destroy();
  }
}
