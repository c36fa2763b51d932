// Embedded keyframes: the store tells us every accepted placement (after it is in placements.log), in seq
// order; we apply it to a board of our own, so the board of a keyframe and the range before it agree by
// construction. At start, whatever the log holds past the last keyframe is read once and cut like live.
// Each cut is compressed and written off the event loop, one at a time, in order.
import { openSync, closeSync, fstatSync, existsSync } from 'node:fs';
import type { Logger } from '../log.js';
import { decodePlacement, scanLog } from '../store/placement-log.js';
import type { EmbeddedStore } from '../store/embedded.js';
import type { Placement } from '../store/store.js';
import { boardBytes } from '../store/store.js';
import type { FileKeyframeStore } from './file-store.js';
import type { TimetravelMetrics } from './metrics.js';
import { Accumulator, inflateBlob, segmentBlobs, type Segment } from './segment.js';
import type { TailSource } from './tail.js';

export interface EmbeddedWriterOptions {
  store: FileKeyframeStore;
  width: number;
  height: number;
  every: number;
  intervalMs: number;
  log: Logger;
  metrics: TimetravelMetrics;
}

const SEQ_PREFIX = /^\{"seq":(\d+),/;

export class EmbeddedKeyframeWriter implements TailSource {
  private acc: Accumulator | undefined;
  /** Cut but not yet listed: still part of the tail. */
  private readonly unlisted: Segment[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: EmbeddedWriterOptions) {}

  /** Synchronous after the last keyframe is read, so no accepted placement slips between the catch-up and live. */
  async start(canvas: EmbeddedStore): Promise<void> {
    const { store, width, height, log } = this.opts;
    const entries = await store.list();
    const last = entries[entries.length - 1];
    const blob = last && (await store.blob(last.seq, 'k'));
    const board = blob ? await inflateBlob(blob) : Buffer.alloc(boardBytes(width, height));
    if (board.length !== boardBytes(width, height)) throw new Error(`keyframe ${last?.seq} is ${board.length} bytes, the canvas needs ${boardBytes(width, height)} (did CANVAS_WIDTH/HEIGHT change? run ops:keyframes)`);
    const acc = (this.acc = new Accumulator(width, board, last?.seq ?? 0));
    const caught = this.catchUp(acc, canvas.logPath);
    canvas.onAccepted((ps) => {
      for (const p of ps) acc.add(p);
      if (acc.due(this.opts.every, 0, 0)) this.cut(acc);
    });
    log.info({ keyframes: entries.length, lastSeq: last?.seq ?? 0, caughtUp: caught }, 'keyframes loaded');
    if (this.opts.intervalMs > 0) {
      this.timer = setInterval(() => {
        if (acc.due(0, this.opts.intervalMs, Date.now())) this.cut(acc);
      }, Math.min(1000, this.opts.intervalMs));
      this.timer.unref();
    }
  }

  /** The log past the last keyframe (only the seq is parsed for records before it). */
  private catchUp(acc: Accumulator, path: string): number {
    if (!existsSync(path)) return 0;
    const fd = openSync(path, 'r');
    let n = 0;
    try {
      scanLog(fd, 0, fstatSync(fd).size, (payload) => {
        const m = SEQ_PREFIX.exec(payload.subarray(0, 24).toString('latin1'));
        if (m && Number(m[1]) <= acc.seq) return;
        const p = decodePlacement(payload);
        if (!p || p.seq <= acc.seq) return;
        // Catching up, the interval is measured in placement time: a keyframe per interval of the canvas's life.
        if (acc.placements.length && acc.due(this.opts.every, this.opts.intervalMs, p.placedAt)) this.cut(acc);
        acc.add(p);
        n++;
      });
    } finally {
      closeSync(fd);
    }
    return n;
  }

  private cut(acc: Accumulator): void {
    const seg = acc.cut();
    this.unlisted.push(seg);
    const started = performance.now();
    this.writing = this.writing
      .then(async () => {
        const { entry, blobs } = await segmentBlobs(seg, this.opts.width);
        await this.opts.store.put(entry, blobs);
        this.opts.metrics.written.inc();
        this.opts.metrics.writeSeconds.observe((performance.now() - started) / 1000);
      })
      .catch((err: Error) => this.opts.log.error({ err: err.message, seq: seg.seq }, 'cannot write a keyframe'))
      .finally(() => this.unlisted.splice(this.unlisted.indexOf(seg), 1));
  }

  /** Placements after `after` that no listed keyframe holds yet (the cut-but-unwritten ones included). */
  async tail(after: number, limit: number): Promise<Placement[]> {
    const out: Placement[] = [];
    // Keyframes off (KEYFRAME_EVERY and KEYFRAME_INTERVAL_MS both 0): the writer never started, the listed past is all there is.
    if (!this.acc) return out;
    for (const list of [...this.unlisted.map((s) => s.placements), this.acc.placements]) {
      for (const p of list) {
        if (p.seq <= after) continue;
        if (out.length >= limit) return out;
        out.push(p);
      }
    }
    return out;
  }

  /** Waits for the writes under way (tests, ops, shutdown). */
  async flush(): Promise<void> {
    await this.writing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.writing;
  }
}
