// A watched project as the server tracks it: its template, and each pixel's state (to do, right, damaged) with
// the counts, from {"t":"project"} messages (a snapshot on watch, then coalesced changes). No DOM here.

export const TRANSPARENT = 255;
export const UNPAINTED = 0;
export const CORRECT = 1;
export const DAMAGED = 2;

export interface ProjectInfo {
  id: string;
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
  link: string;
  /** Palette index per template pixel, row by row; TRANSPARENT where the project has no pixel. */
  pixels: Uint8Array;
}

/** The {"t":"project"} message, as docs/api.md describes it. */
export interface ProjectMessage {
  t: 'project';
  id: string;
  hidden?: boolean;
  seq?: number;
  total?: number;
  correct?: number;
  damaged?: number;
  /** Snapshot: base64 of one state byte per template pixel. */
  state?: string;
  /** Update: [index, state, index, state, …]. */
  changes?: number[];
}

export function isProjectMessage(msg: { t: string }): msg is ProjectMessage {
  return msg.t === 'project' && typeof (msg as { id?: unknown }).id === 'string';
}

export class ProjectState {
  state: Uint8Array | null = null;
  total = 0;
  correct = 0;
  damaged = 0;
  hidden = false;

  constructor(readonly info: ProjectInfo) {}

  get ready(): boolean {
    return this.state !== null;
  }

  get completionPercent(): number {
    return this.total ? (100 * this.correct) / this.total : 0;
  }

  get damagePercent(): number {
    return this.total ? (100 * this.damaged) / this.total : 0;
  }

  /** Applies a message for this project; false if it was not usable (an update before any snapshot). */
  apply(m: ProjectMessage): boolean {
    if (m.hidden) {
      this.hidden = true;
      return true;
    }
    if (typeof m.state === 'string') {
      const bin = atob(m.state);
      if (bin.length !== this.info.pixels.length) return false;
      this.state = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    } else if (Array.isArray(m.changes) && this.state) {
      const s = this.state;
      for (let i = 0; i + 1 < m.changes.length; i += 2) if (m.changes[i] >= 0 && m.changes[i] < s.length) s[m.changes[i]] = m.changes[i + 1];
    } else return false;
    this.total = m.total ?? this.total;
    this.correct = m.correct ?? this.correct;
    this.damaged = m.damaged ?? this.damaged;
    return true;
  }

  /** Board coordinates of every damaged pixel. */
  damagedPixels(): { x: number; y: number }[] {
    const out: { x: number; y: number }[] = [];
    const s = this.state;
    if (!s) return out;
    const { x, y, width } = this.info;
    for (let i = 0; i < s.length; i++) if (s[i] === DAMAGED) out.push({ x: x + (i % width), y: y + Math.floor(i / width) });
    return out;
  }
}

/**
 * The pixel a person should place next: the damaged pixel nearest the view's centre whose colour (on our own
 * board, which may be ahead of the server's last message) is still wrong; with no damage, the nearest pixel
 * still to do. Returns the colour to place there.
 */
export function nextPixel(p: ProjectState, colorAt: (x: number, y: number) => number, centre: { x: number; y: number }): { x: number; y: number; color: number } | null {
  const s = p.state;
  if (!s) return null;
  const { x: px, y: py, width, pixels } = p.info;
  let best: { x: number; y: number; color: number } | null = null;
  let bestScore = Infinity;
  for (let i = 0; i < s.length; i++) {
    if (pixels[i] === TRANSPARENT || s[i] === CORRECT) continue;
    const x = px + (i % width);
    const y = py + Math.floor(i / width);
    if (colorAt(x, y) === pixels[i]) continue;
    // Damage first: any damaged pixel beats every pixel still to do.
    const score = (s[i] === DAMAGED ? 0 : 1e12) + (x + 0.5 - centre.x) ** 2 + (y + 0.5 - centre.y) ** 2;
    if (score < bestScore) {
      bestScore = score;
      best = { x, y, color: pixels[i] };
    }
  }
  return best;
}
