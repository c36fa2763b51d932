// The small connection indicator in the top bar.
import type { ConnectionState } from '../net.js';

const LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting',
  offline: 'Offline',
};

export class StatusChip {
  state: ConnectionState = 'connecting';
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
    this.root.title = state === 'live' ? 'Connected: you see every pixel as it is placed' : LABELS[state];
  }
}
