// History mode: the canvas at any moment of its life. The past is drawn by a renderer of its own on a canvas laid
// over the live one (pointer events pass through to the live canvas, so pan and zoom work as usual and move both).
// The live board underneath keeps following every placement meanwhile, so leaving history mode shows the live
// board at once, with no gap and no reload.
//
// Scrubbing: the newest moment asked for wins. A seek still running when the next one comes is finished, then only
// the latest target is applied; forward within a segment applies just the placements in between.
import type { PixelLookup } from '../api.js';
import { Board } from '../board.js';
import { Renderer } from '../render.js';
import { Inspector } from '../ui/inspector.js';
import type { View } from '../view.js';
import { applyEntry } from '../../../service/src/timetravel/codec.js';
import { StaleTailError } from './api.js';
import { parseMoment, withMoment } from './moment.js';
import { HistoryPanel } from './panel.js';
import { Player } from './player.js';
import { Timeline, type Position } from './timeline.js';

export interface HistoryModeOptions {
  width: number;
  height: number;
  palette: readonly string[];
  view: View;
  overlay: HTMLCanvasElement;
  panel: HTMLElement;
  inspectorRoot: HTMLElement;
  toggle: HTMLButtonElement;
  /** Tells the page history mode turned on or off (to close what belongs to the live board). */
  onChange?: (active: boolean) => void;
}

const REFRESH_MS = 10_000;
const URL_DELAY_MS = 150;

export class HistoryMode {
  readonly timeline: Timeline;
  private readonly board: Board;
  private renderer: Renderer | undefined;
  private readonly panel: HistoryPanel;
  private readonly player: Player;
  private readonly inspector: Inspector;
  private pos: Position | null = null;
  private packed: Uint8Array | null = null;
  private target = 0;
  private applied = NaN;
  private seeking: Promise<void> | undefined;
  private refreshTimer: ReturnType<typeof setInterval> | undefined;
  private urlTimer: ReturnType<typeof setTimeout> | undefined;
  moment = 0;
  active = false;
  /** Seek durations (ms), newest last: the benchmark reads them. */
  readonly seekMs: number[] = [];

  constructor(private readonly o: HistoryModeOptions) {
    this.timeline = new Timeline(o.width, o.height);
    this.board = new Board(o.width, o.height, o.palette);
    this.panel = new HistoryPanel(o.panel, {
      scrub: (m) => {
        this.player.pause();
        void this.seekTo(m);
      },
      togglePlay: () => (this.player.playing ? this.player.pause() : this.player.play()),
      speed: (x) => (this.player.speed = x),
      live: () => this.exit(),
    });
    this.player = new Player(
      () => this.moment,
      () => ({ start: this.timeline.start, end: this.timeline.end }),
      (m) => void this.seekTo(m),
      (playing) => this.panel.setPlaying(playing),
    );
    this.panel.setSpeed(this.player.speed);
    this.panel.setPlaying(false);
    this.inspector = new Inspector(o.inspectorRoot, o.palette, (x, y) => this.lookup(x, y));
    // The page's own inspector shares the panel and may be the one that closes it (Escape, its close button).
    new MutationObserver(() => {
      if (!o.inspectorRoot.hidden || !this.renderer?.selected) return;
      this.renderer.selected = null;
      this.renderer.invalidate();
    }).observe(o.inspectorRoot, { attributes: true, attributeFilter: ['hidden'] });
    o.toggle.addEventListener('click', () => (this.active ? this.exit() : void this.enter()));
    window.addEventListener('popstate', () => {
      const m = parseMoment(location.search);
      if (m !== null) void this.enter(m);
      else if (this.active) this.exit();
    });
  }

  /** The moment named in the page's URL, if any. */
  static momentInUrl(): number | null {
    return parseMoment(location.search);
  }

  async enter(moment?: number): Promise<void> {
    if (!this.active) {
      this.active = true;
      this.o.overlay.classList.add('active');
      this.o.toggle.setAttribute('aria-pressed', 'true');
      this.panel.shown = true;
      this.panel.setMessage('Loading the history…');
      this.o.onChange?.(true);
      // Made on first use, once the overlay is laid out (it measures its canvas for the shared view).
      this.renderer ??= new Renderer(this.o.overlay, this.board, this.o.view);
      this.refreshTimer = setInterval(() => void this.refresh(), REFRESH_MS);
    }
    try {
      await this.refresh();
    } catch (err) {
      this.panel.setMessage(`The history is not available: ${(err as Error).message}`);
      return;
    }
    await this.seekTo(moment ?? this.timeline.end);
  }

  exit(): void {
    if (!this.active) return;
    this.active = false;
    this.player.pause();
    clearInterval(this.refreshTimer);
    clearTimeout(this.urlTimer);
    this.inspector.close();
    this.o.overlay.classList.remove('active');
    this.o.toggle.setAttribute('aria-pressed', 'false');
    this.panel.shown = false;
    history.replaceState(null, '', withMoment(location.href, null));
    this.o.onChange?.(false);
  }

  private async refresh(): Promise<void> {
    const before = this.timeline.segments.map((s) => `${s.seq}:${s.from}`).join();
    await this.timeline.refresh();
    const after = this.timeline.segments.map((s) => `${s.seq}:${s.from}`).join();
    // New keyframes or a longer tail: the next seek starts from a keyframe again (cached, so cheap).
    if (before !== after) {
      this.pos = null;
      this.applied = NaN;
    }
    this.panel.setBounds(this.timeline.start, this.timeline.end);
  }

  /** Shows the board at `moment`; resolves once the newest moment asked for is applied (not yet painted). */
  seekTo(moment: number): Promise<void> {
    this.target = Math.max(this.timeline.start - 1, Math.min(moment, this.timeline.end));
    this.moment = this.target;
    this.seeking ??= this.catchUp().finally(() => (this.seeking = undefined));
    return this.seeking;
  }

  private async catchUp(): Promise<void> {
    while (this.applied !== this.target) {
      const t = this.target;
      const started = performance.now();
      await this.apply(t);
      this.applied = t;
      this.seekMs.push(performance.now() - started);
      if (this.seekMs.length > 1000) this.seekMs.shift();
    }
  }

  private async apply(moment: number): Promise<void> {
    const p = await this.timeline.locate(moment);
    const cur = this.pos;
    if (cur && this.packed && p.segment === cur.segment && p.index >= cur.index) {
      const r = await this.timeline.range(p.segment);
      for (let j = cur.index + 1; j <= p.index; j++) {
        const e = r.entries[j];
        applyEntry(this.packed, e);
        this.board.set(e >>> 4, e & 15);
      }
    } else {
      this.packed = await this.timeline.boardAt(p);
      this.board.loadPacked(this.packed);
    }
    this.pos = p;
    this.renderer?.request();
    this.panel.setMoment(moment, p.seq);
    if (this.inspector.open && this.inspector.current) void this.inspect(this.inspector.current.x, this.inspector.current.y);
    clearTimeout(this.urlTimer);
    this.urlTimer = setTimeout(() => {
      if (this.active) history.replaceState(null, '', withMoment(location.href, moment));
    }, URL_DELAY_MS);
  }

  /** "Who placed this" for the moment shown. */
  inspect(x: number, y: number): Promise<void> {
    if (this.renderer) {
      this.renderer.selected = { x, y };
      this.renderer.invalidate();
    }
    return this.inspector.show(x, y, this.board.shown(y * this.o.width + x));
  }

  private async lookup(x: number, y: number): Promise<PixelLookup> {
    const pos = this.pos;
    if (!pos) return { ok: false, reason: 'unavailable', message: 'Pick a moment first.' };
    try {
      let found;
      try {
        found = await this.timeline.whoPlaced(y * this.o.width + x, pos);
      } catch (err) {
        // The tail we hold is from before a keyframe the server has cut since: read the list again and retry.
        if (!(err instanceof StaleTailError)) throw err;
        await this.refresh();
        await this.seekTo(this.moment);
        found = await this.timeline.whoPlaced(y * this.o.width + x, this.pos ?? pos);
      }
      if (!found) return { ok: false, reason: 'never_placed', message: 'Nobody had placed this pixel yet at this moment.' };
      return { ok: true, pixel: { x, y, ...found, history: [] } };
    } catch (err) {
      return { ok: false, reason: 'unavailable', message: `The history could not be read: ${(err as Error).message}` };
    }
  }

  /** The seq shown, and the board shown (u4-packed) — for tests and the benchmark. */
  get seq(): number {
    return this.pos?.seq ?? 0;
  }

  packedBoard(): Uint8Array {
    return this.board.packed();
  }

  get offscreen(): HTMLCanvasElement | undefined {
    return this.renderer?.offscreen;
  }
}
