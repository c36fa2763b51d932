// Start-up and wiring: config → session and board → socket from the board's seq; then input drives the
// view and placements, and every change is painted on the next animation frame.
import { createSession, fetchBoard, fetchConfig, fetchPixel, type CanvasConfig } from './api.js';
import { Board } from './board.js';
import { parseControls, type Controls } from './controls.js';
import { exposeDebug } from './debug.js';
import { Input } from './input.js';
import { Socket, socketUrl } from './net.js';
import { Placer } from './place.js';
import { mountProjects } from './projects/mount.js';
import { Renderer } from './render.js';
import { Sync } from './sync.js';
import { Banner, onlyColorText } from './ui/banner.js';
import { Coords } from './ui/coords.js';
import { Countdown } from './ui/countdown.js';
import { Inspector } from './ui/inspector.js';
import { CONNECTION_LOST, FROZEN_PLACE, OFFLINE_PLACE, OFFLINE_STICKY, RECONNECTED, ZOOMED_TO_PLACE, cooldownMessage, refusalMessage } from './ui/messages.js';
import { Palette } from './ui/palette.js';
import { StatusChip } from './ui/status.js';
import { Toast } from './ui/toast.js';
import { View, formatHash, parseHash } from './view.js';
import { startHistoryMode } from './history/start.js';
import { PauseWhenHidden } from './visibility.js';

/** Below this many CSS px per board pixel a click zooms in (to PLACE_ZOOM) instead of placing. */
const PLACE_MIN_ZOOM = 3;
const PLACE_ZOOM = 10;

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function loadConfig(): Promise<CanvasConfig> {
  const text = $('#loading-text');
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchConfig();
    } catch {
      $('#loading').dataset.state = 'error';
      text.textContent = 'Cannot reach Tessera right now. Retrying…';
      await sleep(Math.min(10_000, 1000 * 2 ** attempt));
    }
  }
}

async function boot(): Promise<void> {
  const config = await loadConfig();
  const canvas = $<HTMLCanvasElement>('#board');
  const toast = new Toast($('#toast'));
  const status = new StatusChip($('#status'));
  const coords = new Coords($('#coords'));
  const countdown = new Countdown($('#countdown'), config.cooldownMs);
  const palette = new Palette($('#palette'), config.palette);
  const inspector = new Inspector($('#inspector'), config.palette, fetchPixel);
  const inspectButton = $<HTMLButtonElement>('#tool-inspect');
  const banner = new Banner($('#banner'), config.palette);

  const board = new Board(config.width, config.height, config.palette);
  const view = new View(config.width, config.height);
  const renderer = new Renderer(canvas, board, view);
  // "The whole board" means the part of the window the top bar and the dock leave free.
  const measureInsets = () => view.setInsets($('.topbar').getBoundingClientRect().bottom, window.innerHeight - $('.dock').getBoundingClientRect().top);
  measureInsets();
  new ResizeObserver(measureInsets).observe($('.dock'));
  window.addEventListener('resize', measureInsets);
  const fromHash = parseHash(location.hash);
  if (fromHash) view.set(fromHash);
  else view.fit();

  // The view goes into the URL (without adding history entries) so a link opens the same spot.
  let hashTimer: ReturnType<typeof setTimeout> | undefined;
  view.onChange(() => {
    clearTimeout(hashTimer);
    hashTimer = setTimeout(() => history.replaceState(null, '', formatHash(view.state())), 150);
    showCoords();
  });
  window.addEventListener('hashchange', () => {
    const s = parseHash(location.hash);
    if (s) view.set(s);
  });

  const sync = new Sync(board, fetchBoard);
  sync.onLoadFailed = (err, attempt) => {
    console.warn('tessera: loading the board failed, retrying', err);
    const loading = $('#loading');
    if (!loading.hidden) {
      loading.dataset.state = 'error';
      $('#loading-text').textContent = 'Cannot load the canvas right now. Retrying…';
    } else if (attempt === 0) toast.show('Cannot reload the canvas right now. Retrying…', 'error');
  };
  let socket: Socket;
  const placer = new Placer(board, (text) => socket.send(text), config.cooldownMs, {
    onCooldown: (at) => countdown.setUntil(at),
    onRefused: (code, message, retryAfterMs) => {
      const m = refusalMessage(code, message, retryAfterMs);
      toast.show(m.text, m.kind, 6000);
      if (code === 'no_session') {
        void createSession(preparing).then((me) => {
          toast.clear('session');
          inspector.setMe(me.userId);
          socket.reconnectNow();
        }, () => toast.clear('session'));
      }
      renderer.request();
    },
    onAccepted: () => renderer.request(),
  });
  countdown.onReady = () => toast.show('You can place your next pixel.', 'info', 3000);
  countdown.setUntil(placer.nextAt);

  // The moderators' live controls: from /api/config, then {"t":"controls"} on every socket open and change.
  let controls: Controls = { cooldownMs: config.cooldownMs, frozen: config.frozen, onlyColor: config.onlyColor };
  const applyControls = (next: Controls) => {
    if (next.cooldownMs !== controls.cooldownMs) {
      placer.setCooldown(next.cooldownMs);
      countdown.setCooldown(next.cooldownMs);
      banner.cooldownChanged(next.cooldownMs);
    }
    controls = next;
    palette.allowOnly(next.onlyColor);
    countdown.setFrozen(next.frozen);
    banner.show(next);
  };
  palette.allowOnly(controls.onlyColor);
  countdown.setFrozen(controls.frozen);
  banner.show(controls);

  const projects = mountProjects({ config, view, board, palette, toast, send: (text) => socket.send(text) });
  let everLive = false;
  let lostTimer: ReturnType<typeof setTimeout> | undefined;
  let lostShown = false;
  socket = new Socket(socketUrl, {
    since: () => sync.lastSeq,
    onFrame: (frame) => {
      sync.onFrame(frame);
      renderer.request();
    },
    onText: (msg) => {
      if (msg.t === 'reset') void sync.onReset().then(() => renderer.request());
      else if (msg.t === 'pace') {
        if (typeof msg.intervalMs === 'number' && msg.intervalMs > 0) status.setPace(msg.intervalMs);
      } else if (msg.t === 'controls') {
        const next = parseControls(msg, config.palette.length);
        if (next) applyControls(next);
      } else if (!projects.onText(msg)) placer.onText(msg);
      renderer.request();
    },
    onState: (state, retryInMs) => {
      status.set(state, retryInMs);
      if (state !== 'reconnecting') {
        clearTimeout(lostTimer);
        lostTimer = undefined;
      }
      if (state === 'live') {
        projects.onLive();
        toast.clear('offline');
        toast.clear('lost');
        if (lostShown) toast.show(RECONNECTED, 'info', 2500);
        lostShown = false;
        if (!everLive) {
          everLive = true;
          debug.ready = true;
        }
      } else if (state === 'offline') {
        lostShown = true;
        toast.sticky('offline', OFFLINE_STICKY, 'warn');
      } else if (state === 'reconnecting' && everLive && !lostShown && lostTimer === undefined) {
        // Short blips fix themselves; say something only if it lasts (across retries).
        lostTimer = setTimeout(() => {
          lostShown = true;
          toast.sticky('lost', CONNECTION_LOST, 'warn');
        }, 2500);
      }
    },
    onClosed: () => {
      placer.onClosed();
      renderer.request();
    },
  });
  sync.attach(socket);
  sync.onApplied((seq) => placer.onApplied(seq));

  const debug = exposeDebug({ config, view, board, renderer, sync, placer, connection: () => status.state, socketOpens: () => socket.opens });

  // Tools: a colour places; no colour (or the inspect tool) inspects.
  let inspecting = false;
  const setInspecting = (on: boolean) => {
    inspecting = on;
    inspectButton.setAttribute('aria-pressed', String(on));
    canvas.classList.toggle('inspecting', on || palette.selected === null);
    if (on && palette.selected !== null) palette.select(null, false);
  };
  palette.onChange((color) => {
    if (color !== null && inspecting) setInspecting(false);
    canvas.classList.toggle('inspecting', inspecting || color === null);
    countdown.setHasColor(color !== null);
  });
  inspectButton.addEventListener('click', () => setInspecting(!inspecting));
  $('#zoom-in').addEventListener('click', () => view.zoomAt(view.viewport.width / 2, view.viewport.height / 2, 1.5));
  $('#zoom-out').addEventListener('click', () => view.zoomAt(view.viewport.width / 2, view.viewport.height / 2, 1 / 1.5));
  $('#zoom-fit').addEventListener('click', () => view.fit());
  canvas.classList.add('inspecting');

  const historyMode = startHistoryMode({ ...config, view, onChange: () => inspector.close() });
  const inspectPixel = (x: number, y: number) => {
    renderer.selected = { x, y };
    renderer.invalidate();
    void inspector.show(x, y, board.shown(y * config.width + x));
  };
  inspector.onClose(() => {
    renderer.selected = null;
    renderer.invalidate();
  });

  const act = (p: { x: number; y: number } | null, inspect: boolean, at: { x: number; y: number }) => {
    if (!p || p.x < 0 || p.y < 0 || p.x >= config.width || p.y >= config.height) return;
    if (historyMode.active) return void historyMode.inspect(p.x, p.y); // the past is only looked at
    const color = palette.selected;
    if (inspect || inspecting || color === null) return inspectPixel(p.x, p.y);
    // Refused here, with the reason, rather than shown and rolled back: the server would refuse it too.
    if (controls.frozen) return toast.show(FROZEN_PLACE, 'warn', 5000);
    if (controls.onlyColor !== null && color !== controls.onlyColor) return toast.show(onlyColorText(controls.onlyColor), 'warn', 5000);
    if (view.zoom < PLACE_MIN_ZOOM) {
      // A pixel a few device px wide cannot be aimed at: the first click takes you there, the next places.
      view.zoomAt(at.x, at.y, PLACE_ZOOM / view.zoom);
      toast.show(ZOOMED_TO_PLACE, 'info', 3000);
      return;
    }
    const r = placer.place(p.x, p.y, color);
    if (r.ok) {
      renderer.request();
      if (inspector.current?.x === p.x && inspector.current.y === p.y) inspector.close();
    } else if (r.reason === 'cooldown') toast.show(cooldownMessage(r.retryInMs), 'warn');
    else toast.show(OFFLINE_PLACE, 'error');
  };

  let hoverAt: { x: number; y: number } | null = null;
  function showCoords(): void {
    const p = hoverAt ? view.pixelAt(hoverAt.x, hoverAt.y) : view.pixelAt(view.viewport.width / 2, view.viewport.height / 2);
    coords.show(p, view.zoom);
    const h = hoverAt ? p : null;
    if (h?.x !== renderer.hover?.x || h?.y !== renderer.hover?.y) {
      renderer.hover = h;
      renderer.invalidate();
    }
  }

  new Input(canvas, view, {
    tap: (sx, sy, inspect) => act(view.pixelAt(sx, sy), inspect, { x: sx, y: sy }),
    hover: (sx, sy) => {
      hoverAt = sx === null || sy === null ? null : { x: sx, y: sy };
      showCoords();
    },
    centre: (inspect) => act({ x: Math.floor(view.x), y: Math.floor(view.y) }, inspect, { x: view.viewport.width / 2, y: view.viewport.height / 2 }),
    toggleInspect: () => setInspecting(!inspecting),
    stepColor: (d) => palette.step(d),
    escape: () => {
      if (inspector.open) inspector.close();
      else if (inspecting) setInspecting(false);
      else palette.select(null, false);
    },
    crosshair: (on) => {
      renderer.crosshair = on;
      renderer.invalidate();
    },
  });
  showCoords();

  // Session and board together; the socket waits for both (its upgrade needs the cookie, its since the seq).
  // A new visitor's session costs a proof-of-work (a second or so): say so while the worker hashes.
  const preparing = (percent: number) => {
    const text = `Preparing your session… ${percent} %`;
    if (!$('#loading').hidden) $('#loading-text').textContent = text;
    else toast.sticky('session', text, 'info');
  };
  const session = createSession(preparing).then(
    (me) => inspector.setMe(me.userId),
    () => toast.show('Could not sign you in yet: you can watch, and placing will retry.', 'warn', 6000),
  );
  await Promise.all([session, sync.load(false)]);
  $('#loading').hidden = true;
  renderer.request();
  socket.start();
  new PauseWhenHidden(socket, config.hiddenGraceMs);
}

void boot();
