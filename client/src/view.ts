// The view transform: which board point sits at the middle of the window, and how many CSS px a board
// pixel covers. Pure arithmetic (no DOM), so tests and the renderer agree on which pixel is where.

export interface ViewState {
  /** Board coordinate (in pixels, fractional) at the centre of the viewport. */
  x: number;
  y: number;
  /** CSS px per board pixel. */
  zoom: number;
}

export interface Transform {
  zoom: number;
  /** Screen position (CSS px) of the board's top-left corner. */
  tx: number;
  ty: number;
}

export const MAX_ZOOM = 40;

export class View {
  x: number;
  y: number;
  zoom = 1;
  private width = 1;
  private height = 1;
  private dpr = 1;
  /** Screen space covered by toolbars at the top and bottom (CSS px): "the whole board" fits between them. */
  private insets = { top: 0, bottom: 0 };
  private readonly listeners: (() => void)[] = [];

  constructor(
    readonly boardWidth: number,
    readonly boardHeight: number,
  ) {
    this.x = boardWidth / 2;
    this.y = boardHeight / 2;
  }

  /** The window size in CSS px and the device pixel ratio (to align the board to device pixels). */
  resize(width: number, height: number, dpr = 1): void {
    this.width = Math.max(1, width);
    this.height = Math.max(1, height);
    this.dpr = dpr > 0 ? dpr : 1;
    this.set(this.state());
  }

  setInsets(top: number, bottom: number): void {
    // Never so much that nothing is left to show the board in.
    const room = Math.max(0, this.height - 80);
    this.insets = { top: Math.min(Math.max(0, top), room / 2), bottom: Math.min(Math.max(0, bottom), room / 2) };
    this.set(this.state());
  }

  get viewport(): { width: number; height: number } {
    return { width: this.width, height: this.height };
  }

  /** The zoom at which the whole board fits between the toolbars, with a small margin. */
  get fitZoom(): number {
    const free = this.height - this.insets.top - this.insets.bottom;
    return Math.min((this.width * 0.94) / this.boardWidth, (free * 0.94) / this.boardHeight);
  }

  /** Zooming out stops once the whole board is on screen (or at 1:1 for boards smaller than the window). */
  get minZoom(): number {
    return Math.min(1, this.fitZoom);
  }

  state(): ViewState {
    return { x: this.x, y: this.y, zoom: this.zoom };
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  set(s: ViewState): void {
    const zoom = clamp(Number.isFinite(s.zoom) ? s.zoom : this.fitZoom, this.minZoom, MAX_ZOOM);
    // The centre may reach the board's edges but not beyond: the board never leaves the window entirely.
    const x = clamp(Number.isFinite(s.x) ? s.x : this.boardWidth / 2, 0, this.boardWidth);
    const y = clamp(Number.isFinite(s.y) ? s.y : this.boardHeight / 2, 0, this.boardHeight);
    if (x === this.x && y === this.y && zoom === this.zoom) return;
    this.x = x;
    this.y = y;
    this.zoom = zoom;
    for (const fn of this.listeners) fn();
  }

  /** The whole board, centred in the space between the toolbars. */
  fit(): void {
    const zoom = Math.max(this.minZoom, this.fitZoom);
    const y = this.boardHeight / 2 - (this.insets.top - this.insets.bottom) / 2 / zoom;
    this.set({ x: this.boardWidth / 2, y, zoom });
  }

  /**
   * The board's top-left corner is snapped to a device pixel, so at integer zooms every board pixel
   * covers exactly the same number of device pixels (crisp edges, no shimmer while panning).
   */
  transform(): Transform {
    const snap = (v: number) => Math.round(v * this.dpr) / this.dpr;
    return {
      zoom: this.zoom,
      tx: snap(this.width / 2 - this.x * this.zoom),
      ty: snap(this.height / 2 - this.y * this.zoom),
    };
  }

  /** Board coordinate (fractional) under a screen point in CSS px. */
  screenToBoard(sx: number, sy: number): { x: number; y: number } {
    const t = this.transform();
    return { x: (sx - t.tx) / t.zoom, y: (sy - t.ty) / t.zoom };
  }

  /** The board pixel under a screen point, or null off the board. */
  pixelAt(sx: number, sy: number): { x: number; y: number } | null {
    const b = this.screenToBoard(sx, sy);
    const x = Math.floor(b.x);
    const y = Math.floor(b.y);
    return x >= 0 && y >= 0 && x < this.boardWidth && y < this.boardHeight ? { x, y } : null;
  }

  /** Screen point (CSS px) of a board coordinate; the centre of pixel (x, y) is boardToScreen(x + 0.5, y + 0.5). */
  boardToScreen(bx: number, by: number): { x: number; y: number } {
    const t = this.transform();
    return { x: t.tx + bx * t.zoom, y: t.ty + by * t.zoom };
  }

  panBy(dx: number, dy: number): void {
    this.set({ x: this.x - dx / this.zoom, y: this.y - dy / this.zoom, zoom: this.zoom });
  }

  /** Zooms by `factor` keeping the board point under (sx, sy) where it is. */
  zoomAt(sx: number, sy: number, factor: number): void {
    const zoom = clamp(this.zoom * factor, this.minZoom, MAX_ZOOM);
    // Unsnapped on purpose: the snap is display-only, and compounding it would drift the anchor.
    const bx = (sx - this.width / 2) / this.zoom + this.x;
    const by = (sy - this.height / 2) / this.zoom + this.y;
    this.set({ x: bx - (sx - this.width / 2) / zoom, y: by - (sy - this.height / 2) / zoom, zoom });
  }

  /** The visible part of the board in whole pixels, clipped to the board. */
  visibleRect(): { x: number; y: number; w: number; h: number } {
    const a = this.screenToBoard(0, 0);
    const b = this.screenToBoard(this.width, this.height);
    const x0 = clamp(Math.floor(a.x), 0, this.boardWidth);
    const y0 = clamp(Math.floor(a.y), 0, this.boardHeight);
    const x1 = clamp(Math.ceil(b.x), 0, this.boardWidth);
    const y1 = clamp(Math.ceil(b.y), 0, this.boardHeight);
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }
}

/** `#x,y,zoom` → a view state, or null when the hash is not one. */
export function parseHash(hash: string): ViewState | null {
  const m = /^#?(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$/.exec(hash.trim());
  if (!m) return null;
  const [x, y, zoom] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return zoom > 0 ? { x, y, zoom } : null;
}

/** Short enough to share, precise enough that a reload puts the same pixel under the same point. */
export function formatHash(s: ViewState): string {
  return `#${trim(s.x, 2)},${trim(s.y, 2)},${trim(s.zoom, 3)}`;
}

function trim(v: number, digits: number): string {
  return String(Number(v.toFixed(digits)));
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
