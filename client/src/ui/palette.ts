// The colour picker: a radio group of 16 swatches with roving focus (arrow keys move and select,
// Home/End jump), plus [ and ] anywhere on the page to step through the colours.

export const COLOR_NAMES = [
  'White', 'Light grey', 'Grey', 'Black', 'Pink', 'Red', 'Orange', 'Brown',
  'Yellow', 'Lime', 'Green', 'Cyan', 'Blue', 'Indigo', 'Lilac', 'Purple',
] as const;

export function colorName(i: number): string {
  return COLOR_NAMES[i] ?? `Colour ${i + 1}`;
}

export class Palette {
  selected: number | null = null;
  /** Set while the moderators allow only this colour: the other swatches are disabled. */
  private only: number | null = null;
  private readonly buttons: HTMLButtonElement[] = [];
  private readonly listeners: ((color: number | null) => void)[] = [];

  constructor(
    root: HTMLElement,
    palette: readonly string[],
  ) {
    palette.forEach((hex, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'swatch';
      b.setAttribute('role', 'radio');
      b.setAttribute('aria-checked', 'false');
      b.setAttribute('aria-label', colorName(i));
      b.title = `${colorName(i)} (${hex.toUpperCase()})`;
      b.dataset.title = b.title;
      b.dataset.color = String(i);
      b.tabIndex = i === 0 ? 0 : -1;
      b.style.setProperty('--swatch', hex);
      b.addEventListener('click', () => this.select(this.selected === i ? null : i, false));
      this.buttons.push(b);
      root.append(b);
    });
    root.addEventListener('keydown', (e) => this.onKey(e));
  }

  onChange(fn: (color: number | null) => void): void {
    this.listeners.push(fn);
  }

  /** Only `color` may be placed (null = every colour): the others are disabled, and a disabled choice moves to it. */
  allowOnly(color: number | null): void {
    this.only = color;
    this.buttons.forEach((b, i) => {
      b.disabled = color !== null && i !== color;
      b.title = b.disabled ? `${b.dataset.title}: not allowed right now` : b.dataset.title!;
    });
    if (color !== null && this.selected !== null && this.selected !== color) this.select(color, false);
    else this.select(this.selected, false);
  }

  private allowed(i: number): boolean {
    return this.only === null || i === this.only;
  }

  /** Selects a colour (null = none); `focus` moves keyboard focus along with it. */
  select(color: number | null, focus: boolean): void {
    this.selected = color;
    // The one swatch in the tab order: the selected one, else the first that can be chosen.
    const tabbable = color ?? this.only ?? 0;
    this.buttons.forEach((b, i) => {
      b.setAttribute('aria-checked', String(i === color));
      b.tabIndex = i === tabbable ? 0 : -1;
    });
    if (focus && color !== null) this.buttons[color].focus();
    for (const fn of this.listeners) fn(color);
  }

  /** Steps the selection by `delta`, wrapping (from none, forward starts at the first colour). */
  step(delta: number, focus = false): void {
    const n = this.buttons.length;
    let next = this.selected ?? (delta > 0 ? -1 : 0);
    // Past the disabled swatches (at most one full turn).
    for (let k = 0; k < n; k++) {
      next = (((next + delta) % n) + n) % n;
      if (this.allowed(next)) break;
    }
    this.select(next, focus);
  }

  private onKey(e: KeyboardEvent): void {
    const current = this.buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (current < 0) return;
    const perRow = this.perRow();
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow };
    let next: number | null = null;
    if (e.key in moves) next = current + moves[e.key];
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = this.buttons.length - 1;
    if (next === null) return;
    e.preventDefault();
    e.stopPropagation();
    const n = this.buttons.length;
    next = ((next % n) + n) % n;
    // A disabled swatch cannot take focus: while one colour is allowed, every key lands on it.
    this.select(this.allowed(next) ? next : this.only, true);
  }

  /** Swatches per row as laid out now (one row on a desktop, two on a phone). */
  private perRow(): number {
    const top = this.buttons[0]?.offsetTop ?? 0;
    const row = this.buttons.filter((b) => b.offsetTop === top).length;
    return row > 0 ? row : this.buttons.length;
  }
}
