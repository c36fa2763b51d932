// Reading history mode back from a page: the board it holds, what its overlay canvas really drew (1:1 and on
// screen), and driving it like a person (the scrubber) or directly (window.__tesseraHistory).
import type { Page } from 'playwright-core';
import type { TesseraHistoryDebug } from '../../src/history/debug.js';

declare global {
  interface Window {
    __tesseraHistory: TesseraHistoryDebug;
  }
}

export interface HistoryShown {
  seq: number;
  moment: number;
  /** The board history mode holds, packed like GET /api/board. */
  board: Buffer;
  /** Its 1:1 canvas, mapped back to palette indices and packed. */
  drawn: Buffer;
  /** Screen pixels of the overlay checked against the board it holds, and how many differed. */
  visibleChecked: number;
  visibleMismatches: number;
}

export async function readHistory(page: Page): Promise<HistoryShown> {
  const r = await page.evaluate(() => {
    const h = window.__tesseraHistory;
    const t = window.__tessera;
    const { width: w, height: ht, palette } = t.config;
    const lut = new Map(palette.map((hex, i) => [parseInt(hex.slice(1), 16), i]));
    const b64 = (bytes: Uint8Array) => {
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    };
    const board = h.boardBytes();
    const color = (i: number) => (i % 2 === 0 ? board[i >> 1] >> 4 : board[i >> 1] & 15);
    const off = h.offscreen()!.getContext('2d')!.getImageData(0, 0, w, ht).data;
    const drawn = new Uint8Array(board.length);
    for (let i = 0; i < w * ht; i++) {
      const c = lut.get((off[4 * i] << 16) | (off[4 * i + 1] << 8) | off[4 * i + 2]) ?? 0;
      drawn[i >> 1] |= i % 2 === 0 ? c << 4 : c;
    }
    // The overlay on screen: sample the centre of every 7th device pixel that lies well inside a board pixel.
    const canvas = document.querySelector<HTMLCanvasElement>('#history-board')!;
    const vis = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const { zoom, tx, ty } = t.view.transform();
    const rgbOf = palette.map((hex) => parseInt(hex.slice(1), 16));
    let checked = 0;
    let mismatches = 0;
    for (let py = 3; py < canvas.height; py += 7) {
      const by = (py + 0.5 - ty) / zoom;
      if (by < 0 || by >= ht || by % 1 < 0.05 || by % 1 > 0.95) continue;
      for (let px = 3; px < canvas.width; px += 7) {
        const bx = (px + 0.5 - tx) / zoom;
        if (bx < 0 || bx >= w || bx % 1 < 0.05 || bx % 1 > 0.95) continue;
        const o = 4 * (py * canvas.width + px);
        checked++;
        if (((vis[o] << 16) | (vis[o + 1] << 8) | vis[o + 2]) !== rgbOf[color(Math.floor(by) * w + Math.floor(bx))]) mismatches++;
      }
    }
    return { seq: h.seq(), moment: h.moment(), board: b64(board), drawn: b64(drawn), checked, mismatches };
  });
  return { seq: r.seq, moment: r.moment, board: Buffer.from(r.board, 'base64'), drawn: Buffer.from(r.drawn, 'base64'), visibleChecked: r.checked, visibleMismatches: r.mismatches };
}

/** Moves the scrubber to `moment` as a person would (an input event), then waits until that board is painted. */
export async function scrubTo(page: Page, moment: number): Promise<void> {
  await page.evaluate((m) => {
    const input = document.querySelector<HTMLInputElement>('#history-scrub')!;
    input.value = String(m);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, moment);
  await page.evaluate((m) => window.__tesseraHistory.seekTo(m), moment);
}

export async function waitHistory(page: Page, timeout = 20_000): Promise<void> {
  await page.waitForFunction(() => window.__tesseraHistory?.active() && window.__tesseraHistory.seq() > 0, undefined, { timeout, polling: 50 });
}
