// The line above the palette: what to do next, or how long until the next pixel is allowed.

export function formatWait(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export class Countdown {
  private until = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly label: HTMLElement;
  private readonly fill: HTMLElement;
  private hasColor = false;
  private frozen = false;
  private wasCooling = false;
  /** Called when a cooldown runs out (not when there was none), e.g. to announce it. */
  onReady: () => void = () => {};

  constructor(
    private readonly root: HTMLElement,
    private cooldownMs: number,
  ) {
    this.label = root.querySelector('.countdown-label')!;
    this.fill = root.querySelector('.countdown-fill')!;
  }

  /** Local time (Date.now() ms) of the next allowed placement; 0 or past = allowed now. */
  setUntil(at: number): void {
    this.until = at;
    if (at <= Date.now()) this.wasCooling = false; // lifted, not run out: nothing to announce
    clearInterval(this.timer);
    if (at > Date.now()) this.timer = setInterval(() => this.render(), 250);
    this.render();
  }

  /** The full length of a cooldown (for the bar), live from the moderators' controls. */
  setCooldown(ms: number): void {
    this.cooldownMs = ms;
    this.render();
  }

  setFrozen(frozen: boolean): void {
    this.frozen = frozen;
    this.render();
  }

  setHasColor(has: boolean): void {
    this.hasColor = has;
    this.render();
  }

  private render(): void {
    const left = this.until - Date.now();
    if (left > 0) {
      this.wasCooling = true;
      this.root.dataset.state = 'cooldown';
      this.label.replaceChildren('Next pixel in ', strong(formatWait(left)));
      const done = this.cooldownMs > 0 ? 1 - Math.min(1, left / this.cooldownMs) : 1;
      this.fill.style.width = `${(done * 100).toFixed(1)}%`;
      return;
    }
    clearInterval(this.timer);
    if (this.wasCooling) {
      this.wasCooling = false;
      this.onReady();
    }
    if (this.frozen) {
      this.root.dataset.state = 'frozen';
      this.label.textContent = 'Placing is paused';
      return;
    }
    this.root.dataset.state = this.hasColor ? 'ready' : 'idle';
    this.label.textContent = this.hasColor ? 'Ready: click a pixel to place it' : 'Pick a colour, then click a pixel';
  }
}

function strong(text: string): HTMLElement {
  const el = document.createElement('strong');
  el.textContent = text;
  return el;
}
