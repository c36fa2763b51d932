// Playback: the moment moves at `speed` × real time (1× to 10,000×), one seek per animation frame; a seek still
// running when the next frame comes is not queued behind (the newest moment wins, see Scrubbing in mode.ts).
export const SPEEDS = [1, 10, 100, 1000, 10_000] as const;

export class Player {
  speed = 100;
  private raf = 0;
  private last = 0;
  playing = false;

  constructor(
    private readonly now: () => number,
    private readonly bounds: () => { start: number; end: number },
    private readonly moveTo: (moment: number) => void,
    private readonly onState: (playing: boolean) => void,
  ) {}

  play(): void {
    if (this.playing) return;
    const { start, end } = this.bounds();
    if (this.now() >= end) this.moveTo(start); // at the end, play starts over
    this.playing = true;
    this.last = performance.now();
    this.onState(true);
    const step = (t: number) => {
      if (!this.playing) return;
      const dt = t - this.last;
      this.last = t;
      const next = this.now() + dt * this.speed;
      const { end: e } = this.bounds();
      if (next >= e) {
        this.moveTo(e);
        this.pause();
        return;
      }
      this.moveTo(next);
      this.raf = requestAnimationFrame(step);
    };
    this.raf = requestAnimationFrame(step);
  }

  pause(): void {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.onState(false);
  }
}
