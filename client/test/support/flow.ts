// Other people placing while a test watches a page, and a record of every canvas the page painted meanwhile,
// so a test can tell that each paint was a board the server really had (no gap, no flash).
import type { Page } from 'playwright-core';
import type { Test } from './browser.js';
import { mintToken, putPixel } from './load.js';

/** Other people placing: a PUT /api/pixel every 10 ms, each from a new user; remembers what every seq placed. */
export class Flow {
  readonly placed = new Map<number, { i: number; color: number }>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly errors: string[] = [];
  private readonly timer: NodeJS.Timeout;
  private n = 0;

  constructor(base: string, prefix: string, seed: number, size: { width: number; height: number }) {
    const { width: W, height: H } = size;
    let s = seed;
    const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
    this.timer = setInterval(() => {
      const hot = rnd() < 0.33; // a third in a small area, so order matters
      const px = { x: hot ? (W >> 1) + Math.floor(rnd() * 4) : Math.floor(rnd() * W), y: hot ? (H >> 1) + Math.floor(rnd() * 4) : Math.floor(rnd() * H), color: Math.floor(rnd() * 16) };
      const p = putPixel(base, mintToken(`${prefix}-${this.n++}`), px).then(
        (r) => {
          if (r.status !== 200) this.errors.push(`${r.status} ${r.body}`);
          else this.placed.set((JSON.parse(r.body) as { seq: number }).seq, { i: px.y * W + px.x, color: px.color });
        },
        (err: Error) => void this.errors.push(err.message),
      );
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }, 10);
  }

  /** Stops placing and waits for the answers; with `t`, asserts that every placement was taken. */
  async stop(t?: Test): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
    t?.same(this.errors, [], `the ${this.placed.size} placements of the flow were all accepted`);
  }
}

/** The page records its 1:1 canvas (as packed palette indices) on every animation frame where it changed. */
export async function startRecording(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __frames: string[]; __recording: boolean };
    const t = window.__tessera;
    const { width, height, palette } = t.config;
    const lut = new Map(palette.map((hex, i) => [parseInt(hex.slice(1), 16), i]));
    const ctx = t.offscreen.getContext('2d')!;
    w.__frames = [];
    w.__recording = true;
    let last = '';
    const tick = () => {
      if (!w.__recording) return;
      const d = ctx.getImageData(0, 0, width, height).data;
      const packed = new Uint8Array(Math.ceil((width * height) / 2));
      let foreign = false; // a cleared or half-drawn canvas shows colours no board has
      for (let i = 0; i < width * height; i++) {
        const c = lut.get((d[4 * i] << 16) | (d[4 * i + 1] << 8) | d[4 * i + 2]);
        if (c === undefined) foreign = true;
        else packed[i >> 1] |= i % 2 === 0 ? c << 4 : c;
      }
      const b64 = foreign ? 'not a board' : btoa(String.fromCharCode(...packed));
      if (b64 !== last) w.__frames.push((last = b64));
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

export async function stopRecording(page: Page): Promise<Buffer[]> {
  const frames = await page.evaluate(() => {
    const w = window as unknown as { __frames: string[]; __recording: boolean };
    w.__recording = false;
    return w.__frames;
  });
  return frames.map((f) => (f === 'not a board' ? Buffer.alloc(0) : Buffer.from(f, 'base64')));
}

/**
 * Every recorded canvas must be the board at some seq (in order): replaying the flow from `start` must meet
 * each of them. Returns the index of the first one that is no board the server ever had, or -1.
 */
export function firstInconsistent(frames: Buffer[], start: { bytes: Buffer; seq: number }, flow: Flow): number {
  const board = Buffer.from(start.bytes);
  let seq = start.seq;
  for (let k = 0; k < frames.length; k++) {
    for (;;) {
      if (board.equals(frames[k])) break;
      const p = flow.placed.get(seq + 1);
      if (!p) return k;
      seq++;
      board[p.i >> 1] = p.i % 2 === 0 ? (board[p.i >> 1] & 0x0f) | (p.color << 4) : (board[p.i >> 1] & 0xf0) | p.color;
    }
  }
  return -1;
}
