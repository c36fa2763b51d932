// One message at a time at the top of the screen; it fades after a while unless it is sticky.

export type ToastKind = 'info' | 'warn' | 'error';

export class Toast {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stickyKey: string | null = null;

  constructor(private readonly root: HTMLElement) {}

  show(text: string, kind: ToastKind = 'info', ms = 4000): void {
    this.stickyKey = null;
    this.render(text, kind);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), ms);
  }

  /** Stays until cleared with the same key (e.g. "offline" until we are back). */
  sticky(key: string, text: string, kind: ToastKind = 'warn'): void {
    clearTimeout(this.timer);
    this.stickyKey = key;
    this.render(text, kind);
  }

  clear(key: string): void {
    if (this.stickyKey === key) this.hide();
  }

  get text(): string {
    return this.root.hidden ? '' : (this.root.textContent ?? '');
  }

  private render(text: string, kind: ToastKind): void {
    this.root.textContent = text;
    this.root.dataset.kind = kind;
    this.root.hidden = false;
  }

  private hide(): void {
    this.stickyKey = null;
    this.root.hidden = true;
  }
}
