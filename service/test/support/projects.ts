// What the projects tests (service, browser, benchmark) share: PNG templates, the create call, VAPID settings.
import { PNG } from 'pngjs';
import webpush from 'web-push';
import { PALETTE } from '../../src/wire/palette.js';

/** A PNG from raw RGBA per pixel. */
export function rgbaPng(w: number, h: number, rgba: (x: number, y: number) => [number, number, number, number]): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) png.data.set(rgba(x, y), 4 * (y * w + x));
  return PNG.sync.write(png);
}

/** A template PNG: palette index per pixel, null = transparent. */
export function templatePng(w: number, h: number, colorAt: (x: number, y: number) => number | null): Buffer {
  return rgbaPng(w, h, (x, y) => {
    const c = colorAt(x, y);
    if (c === null) return [0, 0, 0, 0];
    const v = parseInt(PALETTE[c].slice(1), 16);
    return [v >> 16, (v >> 8) & 255, v & 255, 255];
  });
}

export async function createProject(base: string, token: string | undefined, body: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}/api/projects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  try {
    return { status: r.status, body: JSON.parse(text) };
  } catch {
    return { status: r.status, body: text };
  }
}

/** Fresh VAPID keys, and the push service the subscriptions may name. */
export function alertEnv(pushOrigin: string, intervalMs = 60_000): Record<string, string> {
  const keys = webpush.generateVAPIDKeys();
  return {
    VAPID_PUBLIC_KEY: keys.publicKey,
    VAPID_PRIVATE_KEY: keys.privateKey,
    VAPID_SUBJECT: 'mailto:ops@tessera.test',
    PUSH_ALLOWED_ORIGINS: pushOrigin,
    PROJECT_ALERT_INTERVAL_MS: String(intervalMs),
  };
}
