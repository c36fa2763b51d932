// window.__tessera: read-only views into the running client, so end-to-end tests can compute which pixel
// is under a screen point and compare what was drawn with the server's board. It changes nothing.
import type { CanvasConfig } from './api.js';
import type { Board } from './board.js';
import type { ConnectionState } from './net.js';
import type { Placer } from './place.js';
import type { Renderer } from './render.js';
import type { Sync, SyncStats } from './sync.js';
import type { Transform, View, ViewState } from './view.js';

export interface TesseraDebug {
  /** True once the board is loaded and the socket has been live once. */
  ready: boolean;
  config: CanvasConfig;
  view: {
    state(): ViewState;
    transform(): Transform;
    pixelAt(sx: number, sy: number): { x: number; y: number } | null;
    boardToScreen(bx: number, by: number): { x: number; y: number };
    minZoom: number;
  };
  /** The board we hold (the server's truth as far as we know), in the GET /api/board layout. */
  boardBytes(): Uint8Array;
  /** The colour index shown at a pixel (our unconfirmed placement, if any, else the truth). */
  shown(x: number, y: number): number;
  /** The canvases: `offscreen` holds the board at 1:1, `canvas` is what is on screen. */
  offscreen: HTMLCanvasElement;
  canvas: HTMLCanvasElement;
  lastSeq(): number;
  stats(): SyncStats & { paints: number; socketOpens: number };
  paintMs(): number[];
  connection(): ConnectionState;
  nextPlacementAt(): number;
  /** Pixels outlined on screen (hover, inspected, keyboard crosshair): their rings cover the edges of neighbours. */
  highlights(): { x: number; y: number }[];
}

export interface DebugParts {
  config: CanvasConfig;
  view: View;
  board: Board;
  renderer: Renderer;
  sync: Sync;
  placer: Placer;
  connection: () => ConnectionState;
  socketOpens: () => number;
}

export function exposeDebug(p: DebugParts): TesseraDebug {
  const d: TesseraDebug = {
    ready: false,
    config: p.config,
    view: {
      state: () => p.view.state(),
      transform: () => p.view.transform(),
      pixelAt: (sx, sy) => p.view.pixelAt(sx, sy),
      boardToScreen: (bx, by) => p.view.boardToScreen(bx, by),
      get minZoom() {
        return p.view.minZoom;
      },
    },
    boardBytes: () => p.board.packed(),
    shown: (x, y) => p.board.shown(y * p.board.width + x),
    offscreen: p.renderer.offscreen,
    canvas: p.renderer.canvas,
    lastSeq: () => p.sync.lastSeq,
    stats: () => ({ ...p.sync.stats, paints: p.renderer.paints, socketOpens: p.socketOpens() }),
    paintMs: () => [...p.renderer.paintMs],
    connection: p.connection,
    nextPlacementAt: () => p.placer.nextAt,
    highlights: () => p.renderer.highlights(),
  };
  (window as unknown as { __tessera: TesseraDebug }).__tessera = d;
  return d;
}
