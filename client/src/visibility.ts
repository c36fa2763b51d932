// A tab nobody looks at should cost the server nothing: once the page has stayed hidden for the grace
// period, the socket is paused (closed); when the page is shown again it resumes from the last seq. A quick
// look elsewhere (shorter than the grace) changes nothing, so switching tabs back and forth stays free.

export interface Pausable {
  pause(): void;
  resume(): void;
}

export class PauseWhenHidden {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private paused = false;

  /** `graceMs` 0 never pauses (the server's HIDDEN_GRACE_MS, from /api/config). */
  constructor(
    private readonly link: Pausable,
    private readonly graceMs: number,
    private readonly doc: Document = document,
  ) {
    if (graceMs <= 0) return;
    doc.addEventListener('visibilitychange', () => this.check());
    this.check();
  }

  private check(): void {
    if (this.doc.visibilityState === 'hidden') {
      if (this.timer === undefined && !this.paused) this.timer = setTimeout(() => this.expire(), this.graceMs);
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.paused) {
      this.paused = false;
      this.link.resume();
    }
  }

  private expire(): void {
    this.timer = undefined;
    if (this.doc.visibilityState !== 'hidden') return;
    this.paused = true;
    this.link.pause();
  }
}
