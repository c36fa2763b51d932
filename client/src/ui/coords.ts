// The coordinates chip: the pixel under the mouse, or the one in the centre when there is no mouse.

export class Coords {
  private last = '';

  constructor(private readonly root: HTMLElement) {}

  show(p: { x: number; y: number } | null, zoom: number): void {
    const z = zoom >= 10 ? Math.round(zoom) : Math.round(zoom * 10) / 10;
    const key = p ? `${p.x},${p.y},${z}` : `-,${z}`;
    if (key === this.last) return;
    this.last = key;
    const strong = document.createElement('strong');
    strong.textContent = p ? `${p.x}, ${p.y}` : '–';
    const zoomEl = document.createElement('span');
    zoomEl.textContent = ` · ${z}×`;
    this.root.replaceChildren(strong, zoomEl);
    this.root.dataset.x = p ? String(p.x) : '';
    this.root.dataset.y = p ? String(p.y) : '';
  }
}
