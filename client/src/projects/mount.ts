// Projects in the page: which project is shown (from ?project=<id>, the list, or one just created), its overlay,
// its live counts over the socket ({"t":"watch"}), the next pixel that helps, and damage alerts. main.ts
// passes the parts it owns and forwards socket text and the socket's "live" state here.
import type { Board } from '../board.js';
import type { Palette } from '../ui/palette.js';
import type { Toast } from '../ui/toast.js';
import type { View } from '../view.js';
import { createProject, fetchProject, listProjects, pushKey, subscribeAlerts } from './api.js';
import { ProjectOverlay } from './overlay.js';
import { ProjectsPanel } from './panel.js';
import { pushSubscription, pushSupported } from './push.js';
import { isProjectMessage, nextPixel, ProjectState } from './state.js';

export interface ProjectsDeps {
  config: { width: number; height: number; palette: readonly string[] };
  view: View;
  board: Board;
  palette: Palette;
  toast: Toast;
  /** Sends a text message on the socket; false while it is not open (onLive sends the watch again). */
  send(text: string): boolean;
}

export interface ProjectsHandle {
  /** True when the message was a project's (and handled here). */
  onText(msg: { t: string }): boolean;
  /** The socket (re)connected: watch the project again (the server sends a fresh snapshot). */
  onLive(): void;
}

/** Read-only, for end-to-end tests (like window.__tessera). */
export interface ProjectsDebug {
  current(): { id: string; completionPercent: number; total: number; correct: number; damaged: number; damagedPixels: { x: number; y: number }[]; seq: number } | null;
  target(): { x: number; y: number; color: number } | null;
}

const PLACE_ZOOM = 12;

export function mountProjects(d: ProjectsDeps): ProjectsHandle {
  const overlay = new ProjectOverlay(document.querySelector('#project-overlay') as HTMLCanvasElement, d.view, d.config.palette);
  let current: ProjectState | null = null;
  let target: { x: number; y: number; color: number } | null = null;
  let seq = 0;
  const watch = () => current && d.send(JSON.stringify({ t: 'watch', project: current.info.id }));

  const show = async (id: string) => {
    try {
      const info = await fetchProject(id);
      if (current && current.info.id !== id) d.send(JSON.stringify({ t: 'unwatch', project: current.info.id }));
      current = new ProjectState(info);
      target = null;
      overlay.show(current);
      panel.current(current);
      watch();
      const url = new URL(location.href);
      url.searchParams.set('project', id);
      history.replaceState(null, '', url.pathname + url.search + url.hash);
    } catch (err) {
      d.toast.show(`Cannot show that project: ${(err as Error).message}`, 'error', 6000);
    }
  };

  const panel = new ProjectsPanel({
    open: () => {
      panel.setOrigin(Math.floor(d.view.x), Math.floor(d.view.y));
      listProjects().then((l) => panel.list(l), () => undefined);
    },
    create: (name, x, y, file) => {
      panel.setBusy(true);
      void file
        .arrayBuffer()
        .then((png) => createProject(name, x, y, png))
        .then(
          (info) => {
            d.toast.show(`Project “${info.name}” created. Share its link!`, 'info', 5000);
            return show(info.id);
          },
          (err: Error) => d.toast.show(err.message, 'error', 8000),
        )
        .finally(() => panel.setBusy(false));
    },
    show: (id) => void show(id),
    style: (style, opacity) => {
      overlay.style = style;
      overlay.opacity = opacity;
      overlay.request();
    },
    next: () => {
      if (!current) return;
      target = nextPixel(current, (x, y) => d.board.shown(y * d.config.width + x), { x: d.view.x, y: d.view.y });
      if (!target) return d.toast.show('Nothing to repair: every pixel of this project is right.', 'info', 4000);
      // The person still places it: we only move there and pick the colour.
      d.view.set({ x: target.x + 0.5, y: target.y + 0.5, zoom: Math.max(d.view.zoom, PLACE_ZOOM) });
      d.palette.select(target.color, false);
      overlay.mark(target);
      // On a phone the panel covers the middle of the view, where the pixel now is.
      if (matchMedia('(max-width: 600px)').matches) panel.setOpen(false);
      d.toast.show(`Pixel ${target.x},${target.y} needs this colour: tap it to place.`, 'info', 4000);
    },
    alert: (threshold) => {
      if (!current) return;
      const id = current.info.id;
      if (!pushSupported()) return d.toast.show('This browser cannot receive alerts.', 'warn', 5000);
      void pushKey()
        .then((key) => {
          if (!key) throw new Error('Alerts are off on this server.');
          return pushSubscription(key);
        })
        .then((sub) => subscribeAlerts(id, sub, threshold))
        .then(
          () => d.toast.show(`You will be alerted when damage passes ${threshold} %.`, 'info', 5000),
          (err: Error) => d.toast.show(`No alerts: ${err.message}`, 'error', 6000),
        );
    },
  });

  const debug: ProjectsDebug = {
    current: () => current && { id: current.info.id, completionPercent: current.completionPercent, total: current.total, correct: current.correct, damaged: current.damaged, damagedPixels: current.damagedPixels(), seq },
    target: () => target,
  };
  (window as unknown as { __tesseraProjects: ProjectsDebug }).__tesseraProjects = debug;

  const fromUrl = new URLSearchParams(location.search).get('project');
  if (fromUrl) void show(fromUrl);

  return {
    onText: (msg) => {
      if (isProjectMessage(msg)) {
        if (current && msg.id === current.info.id && current.apply(msg)) {
          seq = msg.seq ?? seq;
          overlay.request();
          panel.current(current);
        }
        return true;
      }
      const e = msg as { t: string; project?: unknown; message?: string };
      if (e.t === 'error' && typeof e.project === 'string') {
        d.toast.show(`Project: ${e.message ?? 'refused'}`, 'error', 6000);
        return true;
      }
      return false;
    },
    onLive: () => void watch(),
  };
}
