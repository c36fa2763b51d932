// The small connection indicator in the top bar, with how often live updates arrive.
import type { ConnectionState } from '../net.js';

const LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting',
  offline: 'Offline',
  paused: 'Paused (tab hidden)',
};

export class StatusChip {
  state: ConnectionState = 'connecting';
  /** The server's frame interval ({"t":"pace"}), once told. */
  private paceMs: number | null = null;
  private readonly label: HTMLElement;
  private readonly detail: HTMLElement;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly root: HTMLElement) {
    this.label = root.querySelector('.status-label')!;
    this.detail = root.querySelector('.status-detail')!;
  }

  set(state: ConnectionState, retryInMs?: number): void {
    this.state = state;
    this.root.dataset.state = state;
    clearInterval(this.timer);
    if (this.label.textContent !== LABELS[state]) this.label.textContent = LABELS[state];
    this.detail.textContent = '';
    if (state === 'reconnecting' && retryInMs !== undefined && retryInMs >= 1500) {
      // Counting down the wait tells the user something is being done about it (shown, not announced).
      const at = Date.now() + retryInMs;
      const tick = () => {
        const s = Math.ceil((at - Date.now()) / 1000);
        this.detail.textContent = s > 0 ? ` ${s} s` : '';
      };
      tick();
      this.timer = setInterval(tick, 250);
    }
    this.showPace();
  }

  /** The container's frame interval changed (or we joined one): updates arrive at most this often. */
  setPace(intervalMs: number): void {
    this.paceMs = intervalMs;
    this.showPace();
  }

  private showPace(): void {
    const live = this.state === 'live';
    const pace = live && this.paceMs !== null ? `updates every ${this.paceMs} ms` : null;
    if (live && pace) {
      // Narrow screens show just " · 250 ms" (styles.css hides the words).
      const words = document.createElement('span');
      words.className = 'status-long';
      words.textContent = 'updates every ';
      this.detail.replaceChildren(' · ', words, `${this.paceMs} ms`);
    } else if (live) this.detail.textContent = '';
    this.root.title = live ? `Connected: you see every pixel as it is placed${pace ? ` (${pace})` : ''}` : LABELS[this.state];
  }
}
