// Parsing what clients send about projects: the create body and a push subscription. Cheap checks only; the
// PNG itself is decoded by png.ts.
import { createHash } from 'node:crypto';
import { ApiError } from '../wire/errors.js';
import type { AlertSubscription } from './model.js';

export interface CreateInput {
  name: string;
  x: number;
  y: number;
  png: Buffer;
}

const NAME = /^[^\p{Cc}\p{Cf}]{1,64}$/u;

export function parseJsonObject(raw: Buffer, code: 'invalid_project' | 'invalid_subscription'): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError(code, 'body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(code, 'body must be a JSON object');
  return v as Record<string, unknown>;
}

export function parseCreate(o: Record<string, unknown>): CreateInput {
  const name = typeof o.name === 'string' ? o.name.trim() : '';
  if (!NAME.test(name)) throw new ApiError('invalid_project', '"name" must be 1–64 characters, no control characters');
  for (const k of ['x', 'y'] as const) {
    if (typeof o[k] !== 'number' || !Number.isInteger(o[k])) throw new ApiError('invalid_project', `"${k}" must be an integer`);
  }
  if (typeof o.png !== 'string' || o.png.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(o.png)) {
    throw new ApiError('invalid_project', '"png" must be the PNG file, base64-encoded');
  }
  return { name, x: o.x as number, y: o.y as number, png: Buffer.from(o.png, 'base64') };
}

/** In bounds: the whole image on the canvas. */
export function checkBounds(x: number, y: number, w: number, h: number, width: number, height: number): void {
  if (x < 0 || y < 0 || x + w > width || y + h > height) {
    throw new ApiError('project_out_of_bounds', `a ${w}×${h} image at ${x},${y} does not fit on the ${width}×${height} canvas`, { canvas: { width, height } });
  }
}

/** An origin allowed by PUSH_ALLOWED_ORIGINS: exact, or `scheme://*.domain` for any subdomain. */
export function pushOriginAllowed(origin: string, allowed: readonly string[]): boolean {
  const u = new URL(origin);
  return allowed.some((a) => {
    if (!a.includes('*.')) return a === origin;
    const [scheme, rest] = a.split('://*.');
    return u.protocol === `${scheme}:` && u.host.endsWith(`.${rest}`);
  });
}

/** {subscription: PushSubscription.toJSON(), thresholdPercent} → a stored subscription (id = hash of the endpoint). */
export function parseSubscription(o: Record<string, unknown>, allowedOrigins: readonly string[]): AlertSubscription {
  const bad = (m: string) => new ApiError('invalid_subscription', m);
  const threshold = o.thresholdPercent;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 100)) throw bad('"thresholdPercent" must be a number above 0 and at most 100');
  const s = o.subscription as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } } | undefined;
  if (typeof s !== 'object' || s === null || typeof s.endpoint !== 'string' || s.endpoint.length > 2048) throw bad('"subscription" must be a PushSubscription (its toJSON()): {endpoint, keys: {p256dh, auth}}');
  let url: URL;
  try {
    url = new URL(s.endpoint);
  } catch {
    throw bad('"subscription.endpoint" is not a URL');
  }
  // The server POSTs to this URL: only known push services (PUSH_ALLOWED_ORIGINS), never an arbitrary host.
  if (!pushOriginAllowed(url.origin, allowedOrigins)) throw bad(`push service ${url.origin} is not allowed (PUSH_ALLOWED_ORIGINS)`);
  const p256dh = typeof s.keys?.p256dh === 'string' ? s.keys.p256dh : '';
  const auth = typeof s.keys?.auth === 'string' ? s.keys.auth : '';
  const point = Buffer.from(p256dh, 'base64url');
  if (point.length !== 65 || point[0] !== 4) throw bad('"subscription.keys.p256dh" must be an uncompressed P-256 point, base64url');
  if (Buffer.from(auth, 'base64url').length !== 16) throw bad('"subscription.keys.auth" must be 16 bytes, base64url');
  const id = createHash('sha256').update(s.endpoint).digest('base64url').slice(0, 16);
  return { id, endpoint: s.endpoint, keys: { p256dh, auth }, thresholdPercent: threshold, createdAt: Date.now() };
}
