// window.__tesseraHistory: read-only views into history mode for end-to-end tests and the benchmark.
import type { HistoryMode } from './mode.js';

export interface TesseraHistoryDebug {
  active(): boolean;
  enter(moment?: number): Promise<void>;
  exit(): void;
  /** Seeks and resolves once the board at `moment` is painted. */
  seekTo(moment: number): Promise<void>;
  moment(): number;
  seq(): number;
  bounds(): { start: number; end: number };
  /** The board shown, u4-packed like GET /api/board. */
  boardBytes(): Uint8Array;
  offscreen(): HTMLCanvasElement | undefined;
  seekMs(): number[];
  inspect(x: number, y: number): Promise<void>;
}

const painted = () => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));

export function exposeHistoryDebug(mode: HistoryMode): void {
  const d: TesseraHistoryDebug = {
    active: () => mode.active,
    enter: (m) => mode.enter(m),
    exit: () => mode.exit(),
    seekTo: async (m) => {
      await mode.seekTo(m);
      await painted();
    },
    moment: () => mode.moment,
    seq: () => mode.seq,
    bounds: () => ({ start: mode.timeline.start, end: mode.timeline.end }),
    boardBytes: () => mode.packedBoard(),
    offscreen: () => mode.offscreen,
    seekMs: () => [...mode.seekMs],
    inspect: (x, y) => mode.inspect(x, y),
  };
  (window as unknown as { __tesseraHistory: TesseraHistoryDebug }).__tesseraHistory = d;
}
