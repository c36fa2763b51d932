// Which projects cover a pixel: the canvas cut into 64×64 tiles, each listing the projects that overlap it.
// A placement looks up one tile (an array index) and checks only those projects; a pixel no project covers
// costs one array read.
export const TILE = 64;
const SHIFT = 6;

export interface Area {
  x: number;
  y: number;
  width: number;
  height: number;
}

export class SpatialIndex<T extends Area> {
  private readonly cols: number;
  private readonly tiles: (T[] | undefined)[];

  constructor(width: number, height: number) {
    this.cols = Math.ceil(width / TILE);
    this.tiles = new Array(this.cols * Math.ceil(height / TILE));
  }

  /** The items whose tiles include (x, y): a superset of those covering the pixel itself. */
  at(x: number, y: number): readonly T[] | undefined {
    return this.tiles[(y >> SHIFT) * this.cols + (x >> SHIFT)];
  }

  add(item: T): void {
    this.each(item, (i) => (this.tiles[i] ??= []).push(item));
  }

  remove(item: T): void {
    this.each(item, (i) => {
      const list = this.tiles[i];
      if (!list) return;
      const left = list.filter((t) => t !== item);
      this.tiles[i] = left.length ? left : undefined;
    });
  }

  private each(a: Area, fn: (tile: number) => void): void {
    for (let ty = a.y >> SHIFT; ty <= (a.y + a.height - 1) >> SHIFT; ty++) {
      for (let tx = a.x >> SHIFT; tx <= (a.x + a.width - 1) >> SHIFT; tx++) fn(ty * this.cols + tx);
    }
  }
}
