// Painting: at most once per animation frame, and only when something changed. The board's changed
// rectangle goes into an offscreen 1:1 canvas with one putImageData; the visible canvas gets one scaled
// drawImage of the part on screen, with smoothing off so pixels stay square at every zoom.
import type { Board } from './board.js';
import type { View } from './view.js';

export interface Highlight {
  x: number;
  y: number;
}

const BACKDROP = '#e4e6eb';
const FRAME_SAMPLES = 600;

export class Renderer {
  /** The board at 1:1; exposed for tests, which read back what was really drawn. */
  readonly offscreen: HTMLCanvasElement;
  private readonly off: CanvasRenderingContext2D;
  private readonly image: ImageData;
  private readonly ctx: CanvasRenderingContext2D;
  private scheduled = false;
  private viewDirty = true;
  private dpr = 1;
  hover: Highlight | null = null;
  selected: Highlight | null = null;
  crosshair = false;
  /** How long each paint took (ms), newest last: for the frame-time measurement. */
  readonly paintMs: number[] = [];
  paints = 0;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly board: Board,
    private readonly view: View,
  ) {
    this.offscreen = document.createElement('canvas');
    this.offscreen.width = board.width;
    this.offscreen.height = board.height;
    this.off = this.offscreen.getContext('2d', { alpha: false })!;
    this.image = new ImageData(board.rgba, board.width, board.height);
    this.ctx = canvas.getContext('2d', { alpha: false })!;
    view.onChange(() => this.invalidate());
    new ResizeObserver(() => this.resize()).observe(canvas);
    window.addEventListener('resize', () => this.resize());
    this.resize();
  }

  /** Something on screen changed (view, highlight): repaint on the next frame. */
  invalidate(): void {
    this.viewDirty = true;
    this.request();
  }

  /** The board changed: repaint on the next frame (many updates in one frame cost one paint). */
  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.paint());
  }

  private resize(): void {
    const rect = this.canvas.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(rect.width * this.dpr));
    const h = Math.max(1, Math.round(rect.height * this.dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.view.resize(rect.width, rect.height, this.dpr);
    this.invalidate();
  }

  private paint(): void {
    this.scheduled = false;
    const t0 = performance.now();
    const dirty = this.board.takeDirty();
    if (dirty) this.off.putImageData(this.image, 0, 0, dirty.x, dirty.y, dirty.w, dirty.h);
    if (dirty || this.viewDirty) this.draw();
    this.viewDirty = false;
    this.paints++;
    this.paintMs.push(performance.now() - t0);
    if (this.paintMs.length > FRAME_SAMPLES) this.paintMs.splice(0, this.paintMs.length - FRAME_SAMPLES);
  }

  private draw(): void {
    const ctx = this.ctx;
    const dpr = this.dpr;
    const { zoom, tx, ty } = this.view.transform();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = BACKDROP;
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);

    const bw = this.board.width;
    const bh = this.board.height;
    const left = tx * dpr;
    const top = ty * dpr;
    const scale = zoom * dpr;
    // A soft edge so the board reads as a sheet on the backdrop.
    ctx.fillStyle = 'rgba(16, 20, 40, 0.07)';
    ctx.fillRect(left - 3 * dpr, top - 1 * dpr, bw * scale + 6 * dpr, bh * scale + 5 * dpr);
    ctx.fillStyle = 'rgba(16, 20, 40, 0.12)';
    ctx.fillRect(left - 1 * dpr, top - 1 * dpr, bw * scale + 2 * dpr, bh * scale + 2 * dpr);

    // Only the visible source pixels, in whole pixels, so the mapping equals the view's exactly.
    const v = this.view.visibleRect();
    if (v.w > 0 && v.h > 0) {
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(this.offscreen, v.x, v.y, v.w, v.h, left + v.x * scale, top + v.y * scale, v.w * scale, v.h * scale);
    }

    if (this.crosshair) this.outline({ x: Math.floor(this.view.x), y: Math.floor(this.view.y) }, '#1d2030', 2);
    // Below 6 px a pixel is too small for a hover ring to help; it would only hide its neighbours.
    if (this.hover && zoom >= 6) this.outline(this.hover, 'rgba(29, 32, 48, 0.55)', 1);
    if (this.selected) this.outline(this.selected, '#3a6df0', 2);
  }

  highlights(): Highlight[] {
    const out: Highlight[] = [];
    if (this.crosshair) out.push({ x: Math.floor(this.view.x), y: Math.floor(this.view.y) });
    if (this.hover && this.view.zoom >= 6) out.push(this.hover);
    if (this.selected) out.push(this.selected);
    return out;
  }

  /** A ring around a pixel, drawn just outside it so the pixel's own colour stays visible. */
  private outline(p: Highlight, color: string, width: number): void {
    if (p.x < 0 || p.y < 0 || p.x >= this.board.width || p.y >= this.board.height) return;
    const { zoom, tx, ty } = this.view.transform();
    const dpr = this.dpr;
    const lw = width * dpr;
    const x = (tx + p.x * zoom) * dpr;
    const y = (ty + p.y * zoom) * dpr;
    const s = zoom * dpr;
    const ctx = this.ctx;
    ctx.lineWidth = lw;
    ctx.strokeStyle = color;
    ctx.strokeRect(x - lw / 2, y - lw / 2, s + lw, s + lw);
    if (width > 1 && s > 8) {
      ctx.lineWidth = dpr;
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.9)';
      ctx.strokeRect(x - lw - dpr / 2, y - lw - dpr / 2, s + 2 * lw + dpr, s + 2 * lw + dpr);
    }
  }
}
