// The HTTP half of docs/api.md, typed; every call is same-origin so the session cookie rides along.
import { PALETTE } from '../../service/src/wire/palette.js';
import { parseControls, type Controls } from './controls.js';
import { solvePow, type PowChallenge } from './pow.js';

/** The live controls (cooldownMs, frozen, onlyColor) as they were when the page loaded. */
export interface CanvasConfig extends Controls {
  width: number;
  height: number;
  palette: readonly string[];
  /** How long the tab may stay hidden before the socket is closed (0 = never). */
  hiddenGraceMs: number;
}

/** HIDDEN_GRACE_MS's default, for a server that does not say. */
const DEFAULT_HIDDEN_GRACE_MS = 60_000;

export interface BoardSnapshot {
  bytes: Uint8Array;
  seq: number;
}

export interface Placement {
  seq: number;
  color: number;
  userId: string;
  placedAt: number;
}

export interface PixelInfo extends Placement {
  x: number;
  y: number;
  history: Placement[];
}

export type PixelLookup =
  | { ok: true; pixel: PixelInfo }
  | { ok: false; reason: 'never_placed' | 'unavailable' | 'error'; message: string };

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function errorFrom(res: Response): Promise<HttpError> {
  let code = 'http_' + res.status;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string') code = body.error;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    /* not JSON: keep the status line */
  }
  return new HttpError(res.status, code, message);
}

export async function fetchConfig(): Promise<CanvasConfig> {
  const res = await fetch('/api/config');
  if (!res.ok) throw await errorFrom(res);
  const c = (await res.json()) as Partial<CanvasConfig>;
  if (!Number.isInteger(c.width) || !Number.isInteger(c.height) || c.width! <= 0 || c.height! <= 0) throw new Error('bad /api/config');
  // The server's palette is authoritative; the bundled one covers an older server that sent a short list.
  const palette = Array.isArray(c.palette) && c.palette.length === 16 ? c.palette : PALETTE;
  const hiddenGraceMs = typeof c.hiddenGraceMs === 'number' && c.hiddenGraceMs >= 0 ? c.hiddenGraceMs : DEFAULT_HIDDEN_GRACE_MS;
  // An older server sends only cooldownMs: nothing frozen, every colour.
  const controls = parseControls({ frozen: false, onlyColor: null, ...c }, palette.length) ?? { cooldownMs: 0, frozen: false, onlyColor: null };
  return { width: c.width!, height: c.height!, palette, ...controls, hiddenGraceMs };
}

/** Challenge refusals that a fresh challenge fixes (it expired while we solved, or the difficulty went up). */
const RETRY_WITH_NEW_CHALLENGE = new Set(['pow_expired', 'pow_reused', 'pow_insufficient']);

/**
 * Creates the session (or confirms the one in the cookie); the cookie is what the socket upgrade uses. A new
 * session may cost a proof-of-work: solved in a worker, `onProgress` hears 0…100 meanwhile. The challenge is
 * asked for first (it also says whether our cookie already holds a session), so no request is refused on the way.
 */
export async function createSession(onProgress: (percent: number) => void = () => undefined): Promise<{ userId: string }> {
  for (let attempt = 1; ; attempt++) {
    const c = await fetch('/api/session/challenge', { cache: 'no-store' });
    // 404: a server from before challenges; a plain POST is all it wants.
    if (!c.ok && c.status !== 404) throw await errorFrom(c);
    const info = c.ok ? ((await c.json()) as PowChallenge & { session?: boolean }) : null;
    let body: string | undefined;
    if (info && !info.session && info.difficulty > 0 && info.challenge) {
      body = JSON.stringify({ challenge: info.challenge, solution: await solvePow(info, onProgress) });
    }
    const res = await fetch('/api/session', { method: 'POST', ...(body ? { headers: { 'Content-Type': 'application/json' }, body } : {}) });
    if (res.ok) return { userId: ((await res.json()) as { userId: string }).userId };
    const err = await errorFrom(res);
    if (!RETRY_WITH_NEW_CHALLENGE.has(err.code) || attempt >= 3) throw err;
  }
}

/**
 * The board and the seq it includes. `fresh` skips the browser cache: after a reset a cached copy could be
 * from before whatever made the server reset us, and we would loop.
 */
export async function fetchBoard(fresh: boolean): Promise<BoardSnapshot> {
  const res = await fetch('/api/board', { cache: fresh ? 'no-cache' : 'default' });
  if (!res.ok) throw await errorFrom(res);
  const seq = Number(res.headers.get('X-Canvas-Seq'));
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error('GET /api/board without a valid X-Canvas-Seq');
  return { bytes: new Uint8Array(await res.arrayBuffer()), seq };
}

export async function fetchPixel(x: number, y: number): Promise<PixelLookup> {
  let res: Response;
  try {
    res = await fetch(`/api/pixel?x=${x}&y=${y}`, { cache: 'no-store' });
  } catch {
    return { ok: false, reason: 'unavailable', message: 'You appear to be offline.' };
  }
  if (res.ok) {
    const pixel = (await res.json().catch(() => null)) as PixelInfo | null;
    if (pixel && typeof pixel.userId === 'string') return { ok: true, pixel: { ...pixel, history: Array.isArray(pixel.history) ? pixel.history : [] } };
    return { ok: false, reason: 'error', message: 'The server sent pixel details we could not read.' };
  }
  const err = await errorFrom(res);
  if (err.code === 'never_placed') return { ok: false, reason: 'never_placed', message: 'Nobody has placed this pixel yet.' };
  if (res.status === 404 || res.status === 405 || res.status >= 500) {
    return { ok: false, reason: 'unavailable', message: 'Pixel history is not available right now.' };
  }
  return { ok: false, reason: 'error', message: err.message };
}
