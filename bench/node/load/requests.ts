// Pre-built PUT /api/pixel requests, one distinct user each (tokens minted with the service's own Tokens
// class), so the server checks a real cooldown per placement as it would for a real crowd.
import { Tokens } from '../../../service/src/auth/token.js';

export const CANVAS = 1000;

/** 1/16 ms ticks of wall time, modulo the 16e6 entries a 1000×1000 canvas has (wraps every 1000 s). */
export const CLOCK_WRAP = CANVAS * CANVAS * 16;
export function clockEntry(wallMs: number): number {
  return Math.floor(wallMs * 16) % CLOCK_WRAP;
}
/** ms from the entry's encoded time to wallMs (a placement whose pixel is its own timestamp). */
export function clockAge(entry: number, wallMs: number): number {
  return (((clockEntry(wallMs) - entry) % CLOCK_WRAP) + CLOCK_WRAP) % CLOCK_WRAP / 16;
}
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export class PutRequests {
  private readonly tokens: Tokens;
  private readonly head: string;

  constructor(
    secret: string,
    private readonly prefix: string,
    readonly port: number,
  ) {
    this.tokens = new Tokens([Buffer.from(secret)], 3600);
    this.head = `PUT /api/pixel HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n`;
  }

  /** The request of user i placing (x, y, color). */
  build(i: number, x: number, y: number, color: number): Buffer {
    const body = `{"x":${x},"y":${y},"color":${color}}`;
    const { token } = this.tokens.mint(`${this.prefix}${i}`);
    return Buffer.from(`${this.head}Authorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'latin1');
  }

  /** A random pixel for user i. */
  random(i: number): Buffer {
    const r = (i * 2654435761) >>> 0;
    return this.build(i, r % CANVAS, (r >>> 10) % CANVAS, (r >>> 20) % 16);
  }

  /** A pixel that encodes wallMs (see clockEntry), for placement → frame latency in another process. */
  clock(i: number, wallMs: number): Buffer {
    const e = clockEntry(wallMs);
    const idx = Math.floor(e / 16);
    return this.build(i, idx % CANVAS, Math.floor(idx / CANVAS), e % 16);
  }
}

/** n random-pixel requests in one buffer (less GC than n small ones); slice(i) gives request i. */
export class RequestPool {
  private readonly data: Buffer;
  private readonly offsets: Uint32Array;
  constructor(reqs: PutRequests, readonly size: number) {
    const parts: Buffer[] = new Array(size);
    this.offsets = new Uint32Array(size + 1);
    let off = 0;
    for (let i = 0; i < size; i++) {
      parts[i] = reqs.random(i);
      this.offsets[i] = off;
      off += parts[i].length;
    }
    this.offsets[size] = off;
    this.data = Buffer.concat(parts, off);
  }
  private static last: { key: string; pool: RequestPool } | undefined;
  /** The same users again for the next point of a run (Redis is flushed in between, so none is in cooldown). */
  static cached(reqs: PutRequests, secret: string, prefix: string, size: number): RequestPool {
    const key = `${secret}:${prefix}:${size}:${reqs.port}`;
    if (RequestPool.last?.key !== key) RequestPool.last = { key, pool: new RequestPool(reqs, size) };
    return RequestPool.last.pool;
  }

  get(i: number): Buffer {
    return this.data.subarray(this.offsets[i], this.offsets[i + 1]);
  }
}
