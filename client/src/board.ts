// The board twice over: colour indices as the server has them (the truth), and the RGBA bytes we paint
// from, which also show our own placements before the server confirms them. No DOM here: the renderer
// wraps `rgba` in an ImageData.

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export class Board {
  /** The server's colour index per pixel, i = y * width + x. */
  readonly truth: Uint8Array;
  /** What is on screen, 4 bytes per pixel; shares its buffer with the renderer's ImageData. */
  readonly rgba: Uint8ClampedArray<ArrayBuffer>;
  private readonly words: Uint32Array;
  private readonly colors: Uint32Array;
  /** Pixels showing our placement before its seq arrives: index → colour. */
  private readonly optimistic = new Map<number, number>();
  private x0 = Infinity;
  private y0 = Infinity;
  private x1 = -1;
  private y1 = -1;

  constructor(
    readonly width: number,
    readonly height: number,
    palette: readonly string[],
  ) {
    this.truth = new Uint8Array(width * height);
    this.rgba = new Uint8ClampedArray(width * height * 4);
    this.words = new Uint32Array(this.rgba.buffer);
    this.colors = paletteWords(palette);
    this.words.fill(this.colors[0]);
    this.markAll();
  }

  /** Replaces the truth with a board in the wire layout (u4, high nibble first). */
  loadPacked(bytes: Uint8Array): void {
    const n = this.width * this.height;
    if (bytes.length !== Math.ceil(n / 2)) throw new Error(`board is ${bytes.length} bytes, expected ${Math.ceil(n / 2)}`);
    const truth = this.truth;
    for (let i = 0, b = 0; i < n; i += 2, b++) {
      truth[i] = bytes[b] >> 4;
      if (i + 1 < n) truth[i + 1] = bytes[b] & 0x0f;
    }
    const words = this.words;
    const colors = this.colors;
    for (let i = 0; i < n; i++) words[i] = colors[truth[i]];
    for (const [i, c] of this.optimistic) words[i] = colors[c];
    this.markAll();
  }

  /** Applies one confirmed placement. */
  set(index: number, color: number): void {
    this.truth[index] = color;
    if (!this.optimistic.has(index)) this.paint(index, color);
  }

  /** Shows our placement at once; the truth changes only when its seq arrives. */
  showOptimistic(index: number, color: number): void {
    this.optimistic.set(index, color);
    this.paint(index, color);
  }

  /** Stops showing our placement: what is shown returns to the truth (rolled back, or confirmed by then). */
  clearOptimistic(index: number): void {
    if (!this.optimistic.delete(index)) return;
    this.paint(index, this.truth[index]);
  }

  clearAllOptimistic(): void {
    for (const i of [...this.optimistic.keys()]) this.clearOptimistic(i);
  }

  /** The colour index on screen at a pixel. */
  shown(index: number): number {
    return this.optimistic.get(index) ?? this.truth[index];
  }

  /** The truth in the wire layout, for comparing with GET /api/board. */
  packed(): Uint8Array {
    const n = this.width * this.height;
    const out = new Uint8Array(Math.ceil(n / 2));
    for (let i = 0; i < n; i++) out[i >> 1] |= i % 2 === 0 ? this.truth[i] << 4 : this.truth[i];
    return out;
  }

  /** The part of `rgba` changed since the last call (one rectangle), or null. */
  takeDirty(): Rect | null {
    if (this.x1 < 0) return null;
    const r = { x: this.x0, y: this.y0, w: this.x1 - this.x0 + 1, h: this.y1 - this.y0 + 1 };
    this.x0 = this.y0 = Infinity;
    this.x1 = this.y1 = -1;
    return r;
  }

  private paint(index: number, color: number): void {
    this.words[index] = this.colors[color & 15];
    const x = index % this.width;
    const y = (index - x) / this.width;
    if (x < this.x0) this.x0 = x;
    if (x > this.x1) this.x1 = x;
    if (y < this.y0) this.y0 = y;
    if (y > this.y1) this.y1 = y;
  }

  private markAll(): void {
    this.x0 = this.y0 = 0;
    this.x1 = this.width - 1;
    this.y1 = this.height - 1;
  }
}

/** '#RRGGBB' → the u32 that lands as R, G, B, 255 in memory on this machine's byte order. */
export function paletteWords(palette: readonly string[]): Uint32Array {
  const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  const out = new Uint32Array(16);
  for (let i = 0; i < 16; i++) {
    const [r, g, b] = hexRgb(palette[i] ?? '#000000');
    out[i] = littleEndian ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
  }
  return out;
}

export function hexRgb(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return [0, 0, 0];
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}
