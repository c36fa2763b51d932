// The time-travel bar: a scrubber over the canvas's whole life, play/pause, speed, the moment shown, and the
// way back to the live board. DOM only; mode.ts decides what happens.
import { SPEEDS } from './player.js';

export interface PanelEvents {
  scrub(moment: number): void;
  togglePlay(): void;
  speed(x: number): void;
  live(): void;
}

export class HistoryPanel {
  private readonly scrubber: HTMLInputElement;
  private readonly time: HTMLElement;
  private readonly play: HTMLButtonElement;
  private readonly speedSelect: HTMLSelectElement;

  constructor(
    readonly root: HTMLElement,
    events: PanelEvents,
  ) {
    this.scrubber = root.querySelector('#history-scrub')!;
    this.time = root.querySelector('#history-time')!;
    this.play = root.querySelector('#history-play')!;
    this.speedSelect = root.querySelector('#history-speed')!;
    this.speedSelect.replaceChildren(
      ...SPEEDS.map((s) => {
        const o = document.createElement('option');
        o.value = String(s);
        o.textContent = `${s.toLocaleString()}×`;
        return o;
      }),
    );
    this.scrubber.addEventListener('input', () => events.scrub(Number(this.scrubber.value)));
    this.play.addEventListener('click', () => events.togglePlay());
    this.speedSelect.addEventListener('change', () => events.speed(Number(this.speedSelect.value)));
    root.querySelector('#history-live')!.addEventListener('click', () => events.live());
  }

  set shown(on: boolean) {
    this.root.hidden = !on;
  }

  setBounds(start: number, end: number): void {
    this.scrubber.min = String(Math.floor(start));
    this.scrubber.max = String(Math.ceil(Math.max(end, start + 1)));
  }

  setMoment(moment: number, seq: number): void {
    this.scrubber.value = String(Math.round(moment));
    const d = new Date(moment);
    this.time.textContent = `${d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })} · placement #${seq.toLocaleString()}`;
    this.time.setAttribute('data-seq', String(seq));
  }

  setSpeed(x: number): void {
    this.speedSelect.value = String(x);
  }

  setPlaying(playing: boolean): void {
    this.play.setAttribute('aria-pressed', String(playing));
    this.play.setAttribute('aria-label', playing ? 'Pause' : 'Play');
    this.play.title = playing ? 'Pause' : 'Play';
    this.play.dataset.state = playing ? 'playing' : 'paused';
  }

  setMessage(text: string): void {
    this.time.textContent = text;
  }
}
