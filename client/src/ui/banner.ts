// The banner at the top of the dock: what the moderators changed. A frozen canvas and a single allowed colour
// stay until lifted; a new cooldown is shown for a few seconds. It is a polite live region that is never
// hidden (only empty), so screen readers announce each change once.
import { formatCooldown, type Controls } from '../controls.js';
import { colorName } from './palette.js';

const COOLDOWN_NOTE_MS = 8000;

export const frozenText = () => 'The canvas is frozen: no pixels can be placed right now.';
export const onlyColorText = (color: number) => `Only ${colorName(color)} can be placed now.`;
export const cooldownText = (ms: number) => (ms > 0 ? `Cooldown is now ${formatCooldown(ms)}.` : 'Cooldown is now off: place as often as you like.');

export class Banner {
  private controls: Controls | null = null;
  private cooldownNote: string | null = null;
  private noteTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly palette: readonly string[],
  ) {}

  show(c: Controls): void {
    this.controls = c;
    this.render();
  }

  /** Says for a few seconds that the cooldown changed. */
  cooldownChanged(ms: number): void {
    this.cooldownNote = cooldownText(ms);
    clearTimeout(this.noteTimer);
    this.noteTimer = setTimeout(() => {
      this.cooldownNote = null;
      this.render();
    }, COOLDOWN_NOTE_MS);
    this.render();
  }

  private render(): void {
    const lines: HTMLElement[] = [];
    const c = this.controls;
    if (c?.frozen) lines.push(line('frozen', frozenText()));
    if (c && c.onlyColor !== null) {
      const l = line('color', onlyColorText(c.onlyColor));
      const dot = document.createElement('span');
      dot.className = 'dotswatch';
      dot.setAttribute('aria-hidden', 'true');
      dot.style.setProperty('--swatch', this.palette[c.onlyColor]);
      l.prepend(dot);
      lines.push(l);
    }
    if (this.cooldownNote) lines.push(line('cooldown', this.cooldownNote));
    // Unchanged text is left alone, so nothing is announced twice.
    const text = lines.map((l) => l.textContent).join('\n');
    if (text === (this.root.dataset.text ?? '')) return;
    this.root.dataset.text = text;
    this.root.replaceChildren(...lines);
  }
}

function line(kind: string, text: string): HTMLElement {
  const p = document.createElement('p');
  p.className = 'banner-line';
  p.dataset.kind = kind;
  p.textContent = text;
  return p;
}
