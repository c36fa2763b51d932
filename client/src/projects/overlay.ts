// The project over the board: its own canvas above the board's (pointer events pass through, so pan, pinch
// and taps still reach the board), redrawn on the next animation frame after the view or the project changed.
// "full": the template as a translucent sheet; "dots": a small square in the middle of each pixel, so the board
// stays visible around it. Damaged pixels get a red ring (or a red mark when zoomed out).
import type { View } from '../view.js';
import { DAMAGED, TRANSPARENT, type ProjectState } from './state.js';

export type OverlayStyle = 'full' | 'dots';

const DAMAGE = '#ff1744';
/** Below this many CSS px per pixel, dots and rings would be invisible: fall back to full and marks. */
const DETAIL_ZOOM = 4;

export class ProjectOverlay {
  private readonly ctx: CanvasRenderingContext2D;
  private project: ProjectState | null = null;
  /** The template at 1:1 (transparent where the project has no pixel). */
  private sheet: HTMLCanvasElement | null = null;
  private scheduled = false;
  private dpr = 1;
  /** The pixel "next pixel" chose: ringed until the next choice. */
  private marked: { x: number; y: number } | null = null;
  style: OverlayStyle = 'full';
  opacity = 0.6;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly view: View,
    private readonly palette: readonly string[],
  ) {
    this.ctx = canvas.getContext('2d')!;
    view.onChange(() => this.request());
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  show(p: ProjectState | null): void {
    this.project = p;
    this.sheet = p ? this.buildSheet(p) : null;
    this.request();
  }

  mark(p: { x: number; y: number } | null): void {
    this.marked = p;
    this.request();
  }

  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  private resize(): void {
    const r = this.canvas.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(r.width * this.dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * this.dpr));
    this.request();
  }

  private buildSheet(p: ProjectState): HTMLCanvasElement {
    const { width, height, pixels } = p.info;
    const c = document.createElement('canvas');
    c.width = width;
    c.height = height;
    const img = new ImageData(width, height);
    const rgb = this.palette.map((hex) => parseInt(hex.slice(1), 16));
    for (let i = 0; i < pixels.length; i++) {
      if (pixels[i] === TRANSPARENT) continue;
      const v = rgb[pixels[i]];
      img.data.set([v >> 16, (v >> 8) & 255, v & 255, 255], 4 * i);
    }
    c.getContext('2d')!.putImageData(img, 0, 0);
    return c;
  }

  private draw(): void {
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const p = this.project;
    if (!p || !this.sheet || p.hidden) return;
    const { zoom, tx, ty } = this.view.transform();
    const s = zoom * this.dpr;
    ctx.setTransform(s, 0, 0, s, tx * this.dpr, ty * this.dpr);
    const { x, y, width, height, pixels } = p.info;
    // Only the part of the project on screen.
    const v = this.view.visibleRect();
    const x0 = Math.max(x, v.x);
    const y0 = Math.max(y, v.y);
    const x1 = Math.min(x + width, v.x + v.w);
    const y1 = Math.min(y + height, v.y + v.h);
    if (x1 <= x0 || y1 <= y0) return;
    ctx.globalAlpha = this.opacity;
    ctx.imageSmoothingEnabled = false;
    if (this.style === 'full' || zoom < DETAIL_ZOOM) {
      ctx.drawImage(this.sheet, x0 - x, y0 - y, x1 - x0, y1 - y0, x0, y0, x1 - x0, y1 - y0);
    } else {
      for (let by = y0; by < y1; by++) {
        for (let bx = x0; bx < x1; bx++) {
          const c = pixels[(by - y) * width + (bx - x)];
          if (c === TRANSPARENT) continue;
          ctx.fillStyle = this.palette[c];
          ctx.fillRect(bx + 1 / 3, by + 1 / 3, 1 / 3, 1 / 3);
        }
      }
    }
    ctx.globalAlpha = 1;
    if (this.marked) {
      ctx.strokeStyle = '#3a6df0';
      ctx.lineWidth = 3 / zoom;
      ctx.strokeRect(this.marked.x - 2 / zoom, this.marked.y - 2 / zoom, 1 + 4 / zoom, 1 + 4 / zoom);
    }
    const state = p.state;
    if (!state) return;
    ctx.strokeStyle = DAMAGE;
    ctx.fillStyle = DAMAGE;
    ctx.lineWidth = 2 / zoom;
    for (let by = y0; by < y1; by++) {
      for (let bx = x0; bx < x1; bx++) {
        if (state[(by - y) * width + (bx - x)] !== DAMAGED) continue;
        if (zoom >= DETAIL_ZOOM) ctx.strokeRect(bx + 1 / zoom, by + 1 / zoom, 1 - 2 / zoom, 1 - 2 / zoom);
        else ctx.fillRect(bx - 0.5, by - 0.5, 2, 2);
      }
    }
  }
}
