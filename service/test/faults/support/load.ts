// The fault tests' load: an open-loop stream of PUT /api/pixel at a fixed rate, every placement from a user
// of its own (tokens minted with the box's secret), every attempt recorded — what was asked, what came back,
// when — so the checks can tell acknowledged placements from failed and ambiguous ones.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { Tokens } from '../../../src/auth/token.js';
import { Prng } from '../../support/prng.js';

export interface Attempt {
  i: number;
  userId: string;
  x: number;
  y: number;
  color: number;
  /** epoch ms the request was issued / answered (or failed) */
  sentAt: number;
  doneAt: number;
  /** HTTP status; 0 = no HTTP answer (connection error or client timeout) */
  status: number;
  seq?: number;
  error?: string;
  /** how many HTTP responses arrived for this request (must be 1; raw-socket attempts count status lines) */
  responses: number;
}

export interface LoadOptions {
  /** Base URL (HAProxy, or one container for direct traffic). */
  url: string;
  secret: string;
  width: number;
  height: number;
  /** placements per second */
  rate: number;
  /** user ids are `${prefix}${i}`: unique per test so every placement is traceable in the stream and history */
  prefix: string;
  seed?: number;
  /** client-side give-up time per request (well above any server timeout, so hangs are measured, not hidden) */
  timeoutMs?: number;
  /** at most this many requests outstanding; beyond it the generator skips (and counts) sends */
  maxInFlight?: number;
  /** Raw sockets (one connection per request, kept open `holdMs` after the answer) to catch a second response. */
  raw?: { holdMs: number };
}

export class PlacementLoad {
  readonly attempts: Attempt[] = [];
  skipped = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private issued = 0;
  private readonly outstanding = new Set<Promise<void>>();
  private readonly tokens: Tokens;
  private readonly prng: Prng;
  private readonly agent: Agent;
  private readonly opts: Required<Omit<LoadOptions, 'raw'>> & Pick<LoadOptions, 'raw'>;

  constructor(opts: LoadOptions) {
    this.opts = { seed: 1, timeoutMs: 20_000, maxInFlight: 1500, ...opts };
    this.tokens = new Tokens([Buffer.from(opts.secret)], 3600);
    this.prng = new Prng(this.opts.seed);
    this.agent = new Agent({ keepAlive: true, maxSockets: this.opts.maxInFlight });
  }

  start(): this {
    this.started = Date.now();
    // Catch up to rate × elapsed every tick: a steady rate whatever the timer's jitter.
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - this.started) * this.opts.rate) / 1000);
      while (this.issued < due) {
        this.issued++;
        if (this.inFlight >= this.opts.maxInFlight) {
          this.skipped++;
          continue;
        }
        this.send();
      }
    }, 5);
    return this;
  }

  /** Stops issuing and waits for every outstanding request's outcome. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.outstanding]);
    this.agent.destroy();
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  acked(): Attempt[] {
    return this.attempts.filter((a) => a.status === 200);
  }

  failed(): Attempt[] {
    return this.attempts.filter((a) => a.status !== 200);
  }

  private send(): void {
    const i = this.attempts.length;
    const userId = `${this.opts.prefix}${i}`;
    const a: Attempt = {
      i,
      userId,
      x: this.prng.int(this.opts.width),
      y: this.prng.int(this.opts.height),
      color: this.prng.int(16),
      sentAt: Date.now(),
      doneAt: 0,
      status: 0,
      responses: 0,
    };
    this.attempts.push(a);
    const token = this.tokens.mint(userId).token;
    this.inFlight++;
    const p = (this.opts.raw ? this.rawPut(a, token) : this.put(a, token)).finally(() => {
      this.inFlight--;
      this.outstanding.delete(p);
    });
    this.outstanding.add(p);
  }

  private put(a: Attempt, token: string): Promise<void> {
    const body = JSON.stringify({ x: a.x, y: a.y, color: a.color });
    return new Promise<void>((resolve) => {
      let settled = false;
      const done = (status: number, text: string, error?: string) => {
        if (settled) {
          // A second outcome for one request would be a double answer.
          a.responses++;
          return;
        }
        settled = true;
        a.doneAt = Date.now();
        a.status = status;
        if (status > 0) a.responses++;
        try {
          const parsed = JSON.parse(text || '{}') as { seq?: number; error?: string };
          if (status === 200) a.seq = parsed.seq;
          a.error = parsed.error ?? error;
        } catch {
          a.error = error ?? `unparsable body: ${text.slice(0, 80)}`;
        }
        resolve();
      };
      const req = request(`${this.opts.url}/api/pixel`, {
        method: 'PUT',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
        timeout: this.opts.timeoutMs,
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => done(res.statusCode ?? 0, text));
        res.on('error', (err) => done(res.statusCode ?? 0, text, err.message));
      });
      req.on('timeout', () => req.destroy(new Error('client timeout')));
      req.on('error', (err) => done(0, '', err.message));
      req.end(body);
    });
  }

  /** One connection per request, held open after the answer: any second HTTP response on it is counted. */
  private rawPut(a: Attempt, token: string): Promise<void> {
    const u = new URL(this.opts.url);
    const body = JSON.stringify({ x: a.x, y: a.y, color: a.color });
    const head = `PUT /api/pixel HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    return new Promise<void>((resolve) => {
      const sock = connect(Number(u.port), u.hostname);
      let text = '';
      let firstAt = 0;
      let hold: NodeJS.Timeout | undefined;
      const finish = (error?: string) => {
        clearTimeout(hold);
        clearTimeout(giveUp);
        sock.destroy();
        const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
        a.responses = statuses.length;
        a.status = statuses[0] ?? 0;
        a.doneAt = firstAt || Date.now();
        const end = text.indexOf('\r\n\r\n');
        const length = end >= 0 ? Number(/content-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0) : 0;
        const firstBody = end >= 0 ? text.slice(end + 4, end + 4 + length) : '';
        try {
          const parsed = JSON.parse(firstBody || '{}') as { seq?: number; error?: string };
          if (a.status === 200) a.seq = parsed.seq;
          a.error = parsed.error ?? error;
        } catch {
          a.error = error ?? 'unparsable';
        }
        resolve();
      };
      const giveUp = setTimeout(() => finish('client timeout'), this.opts.timeoutMs);
      sock.setNoDelay(true);
      sock.on('connect', () => sock.write(head + body));
      sock.on('data', (d) => {
        text += d.toString('latin1');
        if (firstAt) return;
        const end = text.indexOf('\r\n\r\n');
        const length = end >= 0 ? Number(/content-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0) : -1;
        if (end >= 0 && text.length >= end + 4 + length) {
          firstAt = Date.now();
          hold = setTimeout(() => finish(), this.opts.raw!.holdMs);
        }
      });
      sock.on('error', (err) => finish(err.message));
      sock.on('close', () => {
        if (!hold) finish(firstAt ? undefined : 'closed without an answer');
      });
    });
  }
}

export interface LoadSummary {
  attempts: number;
  acked: number;
  skipped: number;
  byStatus: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  /** the slowest non-200 answer (a 503 must come fast) */
  maxFailureLatencyMs: number;
  /** epoch ms of the first and last failed attempt (by send time), 0 when none */
  firstFailure: number;
  lastFailure: number;
  multipleResponses: number;
}

export function summarize(attempts: Attempt[], skipped = 0): LoadSummary {
  const byStatus: Record<string, number> = {};
  for (const a of attempts) {
    const k = a.status === 200 ? '200' : a.status === 0 ? `0 (${a.error})` : `${a.status} ${a.error ?? ''}`.trim();
    byStatus[k] = (byStatus[k] ?? 0) + 1;
  }
  const lat = attempts.map((a) => a.doneAt - a.sentAt).sort((x, y) => x - y);
  const failures = attempts.filter((a) => a.status !== 200);
  return {
    attempts: attempts.length,
    acked: attempts.length - failures.length,
    skipped,
    byStatus,
    latencyMs: { p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: lat[lat.length - 1] ?? 0 },
    maxFailureLatencyMs: Math.max(0, ...failures.map((a) => a.doneAt - a.sentAt)),
    firstFailure: failures.length ? Math.min(...failures.map((a) => a.sentAt)) : 0,
    lastFailure: failures.length ? Math.max(...failures.map((a) => a.sentAt)) : 0,
    multipleResponses: attempts.filter((a) => a.responses > 1).length,
  };
}

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * Volume without HTTP: batches of placements through the service's own placement script (place.lua), straight
 * into Redis — so the containers' subscriptions, fanout and sockets carry far more frames than this test
 * process could PUT. Users are `${prefix}${n}`, cooldown 0.
 */
export class BulkPlacer {
  private timer: NodeJS.Timeout | undefined;
  private busy = 0;
  placed = 0;
  lastSeq = 0;
  errors = 0;
  private n = 0;
  private readonly prng: Prng;

  constructor(
    private readonly o: {
      redis: import('ioredis').Redis;
      keys: { board: string; seq: string; stream: string; bans: string; cooldownPrefix: string; channel: string };
      width: number;
      height: number;
      perSecond: number;
      /** placements per script call (≤ 1,000: the script unpacks 4 BITFIELD arguments per placement) */
      batch?: number;
      /** script calls in flight */
      concurrency?: number;
      prefix?: string;
      seed?: number;
    },
  ) {
    this.prng = new Prng(o.seed ?? 7);
    if (!(o.redis as unknown as { tesseraBulkPlace?: unknown }).tesseraBulkPlace) {
      o.redis.defineCommand('tesseraBulkPlace', { lua: readFileSync(new URL('../../../src/store/place.lua', import.meta.url), 'utf8') });
    }
  }

  start(): this {
    const batch = this.o.batch ?? 500;
    const started = Date.now();
    let issued = 0;
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - started) * this.o.perSecond) / 1000 / batch);
      while (issued < due && this.busy < (this.o.concurrency ?? 2)) {
        issued++;
        void this.call(batch);
      }
      // Behind and at the concurrency limit: drop the backlog rather than burst later.
      if (issued < due - 2) issued = due;
    }, 5);
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy > 0) await new Promise((r) => setTimeout(r, 5));
  }

  private async call(batch: number): Promise<void> {
    this.busy++;
    const k = this.o.keys;
    const keys = [k.board, k.seq, k.stream, k.bans];
    const args: (string | number)[] = [Date.now(), this.o.width, 0, k.channel, batch];
    for (let i = 0; i < batch; i++) {
      const user = `${this.o.prefix ?? 'bulk-'}${this.n++}`;
      keys.push(k.cooldownPrefix + user);
      args.push(this.prng.int(this.o.width), this.prng.int(this.o.height), this.prng.int(16), user, 0);
    }
    try {
      const out = await (this.o.redis as unknown as { tesseraBulkPlace(...a: (string | number)[]): Promise<number[]> }).tesseraBulkPlace(keys.length, ...keys, ...args);
      this.placed += batch;
      this.lastSeq = Math.max(this.lastSeq, out[out.length - 1]);
    } catch {
      this.errors++;
    } finally {
      this.busy--;
    }
  }
}

/**
 * The slack to allow on top of a server-side timeout: 1.5 s, or 3 × the p99 of the same load before the fault
 * when the host is slower than that (a shared CI machine), but never more than 8 s — a hang runs into the
 * client's 20 s timeout and still fails.
 */
export function slackFrom(before: Attempt[], minMs = 1500, maxMs = 8000): number {
  const lat = before.filter((a) => a.status === 200).map((a) => a.doneAt - a.sentAt).sort((x, y) => x - y);
  return Math.min(maxMs, Math.max(minMs, 3 * pct(lat, 0.99)));
}
