// Pixel details: who placed it and when (GET /api/pixel), with its recent history. The endpoint may be
// missing or failing on an older or degraded server; the panel then says so and still shows the colour.
import type { PixelInfo, PixelLookup, Placement } from '../api.js';
import { colorName } from './palette.js';

export class Inspector {
  private readonly body: HTMLElement;
  private request = 0;
  private readonly closeListeners: (() => void)[] = [];
  current: { x: number; y: number } | null = null;
  private me: string | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly palette: readonly string[],
    private readonly lookup: (x: number, y: number) => Promise<PixelLookup>,
  ) {
    this.body = root.querySelector('#inspector-body')!;
    root.querySelector('#inspector-close')!.addEventListener('click', () => this.close());
  }

  /** Our own user id, so our placements read "you". */
  setMe(userId: string): void {
    this.me = userId;
  }

  get open(): boolean {
    return !this.root.hidden;
  }

  onClose(fn: () => void): void {
    this.closeListeners.push(fn);
  }

  /** Shows the pixel at once with the colour we have, then fills in who and when. */
  async show(x: number, y: number, shownColor: number): Promise<void> {
    const req = ++this.request;
    this.current = { x, y };
    this.root.hidden = false;
    this.root.querySelector('#inspector-title')!.textContent = `Pixel ${x}, ${y}`;
    this.body.replaceChildren(this.colorLine(shownColor), note('Loading…'));
    const res = await this.lookup(x, y);
    if (req !== this.request) return; // another pixel was inspected meanwhile
    if (!res.ok) {
      this.body.replaceChildren(this.colorLine(shownColor), note(res.message));
      return;
    }
    this.body.replaceChildren(...this.details(res.pixel));
  }

  close(): void {
    if (this.root.hidden) return;
    this.request++;
    this.current = null;
    this.root.hidden = true;
    for (const fn of this.closeListeners) fn();
  }

  private details(p: PixelInfo): HTMLElement[] {
    const dl = document.createElement('dl');
    add(dl, 'Colour', this.swatch(p.color), colorName(p.color));
    add(dl, 'Placed by', this.who(p.userId));
    add(dl, 'When', when(p.placedAt));
    if (typeof p.seq === 'number') add(dl, 'Placement', `#${p.seq.toLocaleString()}`);
    const out: HTMLElement[] = [dl];
    const older = p.history.filter((h) => h.seq !== p.seq);
    if (older.length > 0) {
      const h3 = document.createElement('h3');
      h3.textContent = 'Before that';
      const ol = document.createElement('ol');
      for (const h of older) ol.append(this.historyItem(h));
      out.push(h3, ol);
    }
    return out;
  }

  private historyItem(h: Placement): HTMLElement {
    const li = document.createElement('li');
    const who = document.createElement('span');
    who.textContent = this.who(h.userId);
    const at = document.createElement('span');
    at.className = 'when';
    at.textContent = relative(h.placedAt);
    at.title = absolute(h.placedAt);
    li.append(this.swatch(h.color), who, at);
    li.setAttribute('aria-label', `${colorName(h.color)} by ${this.who(h.userId)}, ${relative(h.placedAt)}`);
    return li;
  }

  private who(userId: string): string {
    return userId === this.me ? `you (${userId})` : userId;
  }

  private colorLine(color: number): HTMLElement {
    const dl = document.createElement('dl');
    add(dl, 'Colour', this.swatch(color), colorName(color));
    return dl;
  }

  private swatch(color: number): HTMLElement {
    const s = document.createElement('span');
    s.className = 'dotswatch';
    s.setAttribute('aria-hidden', 'true');
    s.style.setProperty('--swatch', this.palette[color] ?? '#000');
    return s;
  }
}

function add(dl: HTMLElement, term: string, ...value: (Node | string)[]): void {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.append(...value);
  dl.append(dt, dd);
}

function note(text: string): HTMLElement {
  const p = document.createElement('p');
  p.className = 'muted';
  p.textContent = text;
  return p;
}

function when(ms: number): HTMLElement {
  const t = document.createElement('time');
  t.dateTime = new Date(ms).toISOString();
  t.textContent = `${relative(ms)} (${absolute(ms)})`;
  return t;
}

export function relative(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} days ago`;
}

function absolute(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
