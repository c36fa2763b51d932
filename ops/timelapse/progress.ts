// A progress bar on stderr for the ops commands: redrawn in place on a terminal, a line per 10 % otherwise
// (a log file or CI keeps a readable record instead of thousands of carriage returns).
export class ProgressBar {
  private readonly tty = Boolean(process.stderr.isTTY);
  private lastDecile = -1;
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number): void {
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastDraw < 100 && frac < 1) return;
      this.lastDraw = now;
      const width = 30;
      const filled = Math.round(frac * width);
      process.stderr.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(1)}% ${done}/${this.total} ${this.eta(frac)}`);
      return;
    }
    const decile = Math.floor(frac * 10);
    if (decile === this.lastDecile) return;
    this.lastDecile = decile;
    process.stderr.write(`${this.label} ${decile * 10}% (${done}/${this.total}) ${this.eta(frac)}\n`);
  }

  done(): void {
    this.update(this.total);
    if (this.tty) process.stderr.write('\n');
  }

  private eta(frac: number): string {
    const s = (Date.now() - this.started) / 1000;
    if (frac <= 0 || frac >= 1) return `${s.toFixed(1)} s`;
    return `${s.toFixed(1)} s, ~${((s / frac) * (1 - frac)).toFixed(0)} s left`;
  }
}
