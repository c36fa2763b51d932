// Mouse, touch and keyboard → view changes and actions. A press that moves less than a few px is a
// click (place or inspect); more is a drag (pan). Two fingers pinch-zoom around their midpoint.
import type { View } from './view.js';

export interface InputActions {
  /** A click or tap at a screen point; `inspect` for right-click or long-press. */
  tap(sx: number, sy: number, inspect: boolean): void;
  /** The board pixel under the mouse, or null when it left the board. */
  hover(sx: number | null, sy: number | null): void;
  /** Enter/Space (place) or I (inspect) on the pixel in the centre, for keyboard users. */
  centre(inspect: boolean): void;
  toggleInspect(): void;
  stepColor(delta: number): void;
  escape(): void;
  /** The keyboard crosshair is shown while the canvas has keyboard focus. */
  crosshair(on: boolean): void;
}

const DRAG_THRESHOLD = { mouse: 5, pen: 6, touch: 10 } as Record<string, number>;
const KEY_ZOOM = 1.5;

interface Press {
  id: number;
  startX: number;
  startY: number;
  lastX: number;
  lastY: number;
  moved: boolean;
  type: string;
}

export class Input {
  private readonly pointers = new Map<number, { x: number; y: number }>();
  private press: Press | null = null;
  private pinch: { dist: number; x: number; y: number } | null = null;
  private suppressTap = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly view: View,
    private readonly actions: InputActions,
  ) {
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e, false));
    canvas.addEventListener('pointercancel', (e) => this.up(e, true));
    canvas.addEventListener('pointerleave', (e) => {
      if (e.pointerType === 'mouse') this.actions.hover(null, null);
    });
    canvas.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    canvas.addEventListener('contextmenu', (e) => {
      e.preventDefault();
      // Long-press on touch arrives here too: it inspects, and the finger lifting must not also place.
      this.suppressTap = true;
      const p = this.local(e);
      this.actions.tap(p.x, p.y, true);
    });
    canvas.addEventListener('focus', () => this.actions.crosshair(canvas.matches(':focus-visible')));
    canvas.addEventListener('blur', () => this.actions.crosshair(false));
    window.addEventListener('keydown', (e) => this.key(e));
  }

  private local(e: MouseEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  private down(e: PointerEvent): void {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    const p = this.local(e);
    this.canvas.setPointerCapture?.(e.pointerId);
    this.pointers.set(e.pointerId, p);
    if (this.pointers.size === 1) {
      this.suppressTap = false;
      this.press = { id: e.pointerId, startX: p.x, startY: p.y, lastX: p.x, lastY: p.y, moved: false, type: e.pointerType };
    } else {
      // A second finger: this gesture is a pinch, never a tap.
      if (this.press) this.press.moved = true;
      this.pinch = this.pinchState();
    }
  }

  private move(e: PointerEvent): void {
    const p = this.local(e);
    if (e.pointerType !== 'touch') this.actions.hover(p.x, p.y);
    if (!this.pointers.has(e.pointerId)) return;
    this.pointers.set(e.pointerId, p);
    if (this.pointers.size >= 2 && this.pinch) {
      const next = this.pinchState()!;
      this.view.panBy(next.x - this.pinch.x, next.y - this.pinch.y);
      if (this.pinch.dist > 0) this.view.zoomAt(next.x, next.y, next.dist / this.pinch.dist);
      this.pinch = next;
      return;
    }
    const press = this.press;
    if (!press || press.id !== e.pointerId) return;
    if (!press.moved && Math.hypot(p.x - press.startX, p.y - press.startY) >= (DRAG_THRESHOLD[press.type] ?? 6)) {
      press.moved = true;
      this.canvas.classList.add('dragging');
      // Pan from where the press started, so the pixel grabbed stays under the pointer.
      press.lastX = press.startX;
      press.lastY = press.startY;
    }
    if (press.moved) {
      this.view.panBy(p.x - press.lastX, p.y - press.lastY);
      press.lastX = p.x;
      press.lastY = p.y;
    }
  }

  private up(e: PointerEvent, cancelled: boolean): void {
    if (!this.pointers.delete(e.pointerId)) return;
    const press = this.press;
    if (this.pointers.size >= 2) {
      this.pinch = this.pinchState();
      return;
    }
    this.pinch = null;
    if (this.pointers.size === 1) {
      // One finger left after a pinch: it keeps panning from where it is, and never taps.
      const [id, p] = [...this.pointers][0];
      this.press = { id, startX: p.x, startY: p.y, lastX: p.x, lastY: p.y, moved: true, type: 'touch' };
      return;
    }
    this.press = null;
    this.canvas.classList.remove('dragging');
    if (cancelled || !press || press.moved || press.id !== e.pointerId || this.suppressTap) return;
    this.actions.tap(press.startX, press.startY, false);
  }

  private pinchState(): { dist: number; x: number; y: number } | null {
    const [a, b] = [...this.pointers.values()];
    if (!a || !b) return null;
    return { dist: Math.hypot(a.x - b.x, a.y - b.y), x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  }

  private wheel(e: WheelEvent): void {
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.view.viewport.height : 1;
    const delta = Math.max(-300, Math.min(300, e.deltaY * unit));
    // Trackpad pinches arrive as ctrl+wheel with small deltas: make them as responsive as a wheel notch.
    const factor = Math.exp(-delta * (e.ctrlKey ? 0.01 : 0.002));
    const p = this.local(e);
    this.view.zoomAt(p.x, p.y, factor);
    this.actions.hover(p.x, p.y);
  }

  private key(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const target = e.target as HTMLElement | null;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    const onCanvas = target === this.canvas;
    const free = onCanvas || !target || target === document.body;
    const v = this.view;
    const step = Math.max(1, Math.floor(48 / v.zoom)) * (e.shiftKey ? 5 : 1);
    // Keyboard moves land the centre on a pixel's middle, so the crosshair pixel is unambiguous.
    const mid = (c: number) => Math.floor(c) + 0.5;
    const { width, height } = v.viewport;
    switch (e.key) {
      case 'ArrowLeft':
      case 'ArrowRight':
      case 'ArrowUp':
      case 'ArrowDown': {
        if (!free) return;
        const dx = e.key === 'ArrowLeft' ? -step : e.key === 'ArrowRight' ? step : 0;
        const dy = e.key === 'ArrowUp' ? -step : e.key === 'ArrowDown' ? step : 0;
        v.set({ x: mid(v.x) + dx, y: mid(v.y) + dy, zoom: v.zoom });
        if (onCanvas) this.actions.crosshair(true);
        break;
      }
      case '+':
      case '=':
        v.zoomAt(width / 2, height / 2, KEY_ZOOM);
        break;
      case '-':
      case '_':
        v.zoomAt(width / 2, height / 2, 1 / KEY_ZOOM);
        break;
      case '0':
        v.fit();
        break;
      case 'Enter':
      case ' ':
        if (!onCanvas) return;
        this.actions.centre(false);
        break;
      case 'i':
      case 'I':
        if (onCanvas) this.actions.centre(true);
        else this.actions.toggleInspect();
        break;
      case '[':
        this.actions.stepColor(-1);
        break;
      case ']':
        this.actions.stepColor(1);
        break;
      case 'Escape':
        this.actions.escape();
        break;
      default:
        return;
    }
    e.preventDefault();
  }
}
