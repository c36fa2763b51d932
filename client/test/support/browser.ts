// Headless Chromium on the built client, and ways to read back what the page really drew.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type tap from 'tap';
import type { TesseraDebug } from '../../src/debug.js';

declare global {
  interface Window {
    __tessera: TesseraDebug;
  }
}

/** The test object tap passes to a subtest callback. */
export type Test = Parameters<Parameters<typeof tap.test>[0]>[0];

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(Boolean) as string[];

export async function launch(): Promise<Browser> {
  const executablePath = CHROMIUM.find((p) => existsSync(p));
  if (!executablePath) throw new Error(`no Chromium found (tried ${CHROMIUM.join(', ')}); install Debian's chromium or set CHROMIUM_PATH`);
  return chromium.launch({
    executablePath,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and CSP violations seen so far. */
  problems: string[];
}

export async function openPage(
  browser: Browser,
  base: string,
  opts: { hash?: string; viewport?: { width: number; height: number }; context?: BrowserContext; touch?: boolean } = {},
): Promise<OpenedPage> {
  const context =
    opts.context ??
    (await browser.newContext({
      viewport: opts.viewport ?? { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      hasTouch: opts.touch ?? false,
      isMobile: opts.touch ?? false,
    }));
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // GET /api/pixel answers 404 for a never-placed pixel (and while the history module is missing): expected.
    if (/status of 404/.test(m.text()) && m.location().url.includes('/api/pixel')) return;
    problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(`${base}/${opts.hash ?? ''}`, { timeout: 15_000 });
  await waitReady(page);
  return { context, page, problems };
}

export async function waitReady(page: Page, timeout = 15_000): Promise<void> {
  await page.waitForFunction(() => window.__tessera?.ready === true && window.__tessera.connection() === 'live', undefined, { timeout, polling: 50 });
}

/** Two animation frames: whatever was applied before is on the canvases now. */
export async function painted(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
}

export async function serverBoard(base: string): Promise<{ bytes: Buffer; seq: number }> {
  const r = await fetch(`${base}/api/board`);
  if (r.status !== 200) throw new Error(`GET /api/board: ${r.status}`);
  return { bytes: Buffer.from(await r.arrayBuffer()), seq: Number(r.headers.get('x-canvas-seq')) };
}

export interface Drawn {
  lastSeq: number;
  /** The client's own board (truth), packed like GET /api/board. */
  truth: Buffer;
  /** Read back from the 1:1 offscreen canvas, mapped to palette indices and packed. */
  offscreen: Buffer;
  offscreenUnknown: number;
  /** Device pixels of the visible canvas checked against `expected`, and those that differed. */
  visibleChecked: number;
  visibleMismatches: string[];
}

/**
 * Reads what the page drew. The visible canvas is checked device pixel by device pixel: each one over
 * the board must show the colour `expected` (packed board bytes) has at the board pixel the view maps it to.
 */
export async function readDrawn(page: Page, expected: Buffer): Promise<Drawn> {
  const r = await page.evaluate((expectedB64: string) => {
    const t = window.__tessera;
    const { width: w, height: h, palette } = t.config;
    const rgbOf = palette.map((hex) => parseInt(hex.slice(1), 16));
    const lut = new Map(rgbOf.map((rgb, i) => [rgb, i]));
    const b64 = (bytes: Uint8Array) => {
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    };
    const exp = Uint8Array.from(atob(expectedB64), (c) => c.charCodeAt(0));
    const colorAt = (i: number) => (i % 2 === 0 ? exp[i >> 1] >> 4 : exp[i >> 1] & 15);

    const off = t.offscreen.getContext('2d')!.getImageData(0, 0, w, h).data;
    const packed = new Uint8Array(Math.ceil((w * h) / 2));
    let unknown = 0;
    for (let i = 0; i < w * h; i++) {
      const c = lut.get((off[4 * i] << 16) | (off[4 * i + 1] << 8) | off[4 * i + 2]);
      if (c === undefined) {
        unknown++;
        continue;
      }
      packed[i >> 1] |= i % 2 === 0 ? c << 4 : c;
    }

    const canvas = t.canvas;
    const dpr = canvas.width / canvas.getBoundingClientRect().width;
    const vis = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const { zoom, tx, ty } = t.view.transform();
    const mismatches: string[] = [];
    let checked = 0;
    // Outlined pixels (hover, inspected) have rings over their neighbours' edges: skip that 3×3 block.
    const ringed = new Set<number>();
    for (const p of t.highlights()) for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) ringed.add((p.y + dy) * w + p.x + dx);
    for (let py = 0; py < canvas.height; py++) {
      const by = ((py + 0.5) / dpr - ty) / zoom;
      const fy = by - Math.floor(by);
      if (by < 0 || by >= h || fy < 0.02 || fy > 0.98) continue; // near a pixel edge, rounding may go either way
      for (let px = 0; px < canvas.width; px++) {
        const bx = ((px + 0.5) / dpr - tx) / zoom;
        const fx = bx - Math.floor(bx);
        if (bx < 0 || bx >= w || fx < 0.02 || fx > 0.98) continue;
        const i = Math.floor(by) * w + Math.floor(bx);
        if (ringed.has(i)) continue;
        const o = 4 * (py * canvas.width + px);
        const rgb = (vis[o] << 16) | (vis[o + 1] << 8) | vis[o + 2];
        checked++;
        if (rgb !== rgbOf[colorAt(i)] && mismatches.length < 10) {
          mismatches.push(`screen ${px},${py} → pixel ${i % w},${Math.floor(i / w)}: drawn #${rgb.toString(16).padStart(6, '0')}, expected colour ${colorAt(i)}`);
        }
      }
    }
    return { lastSeq: t.lastSeq(), truth: b64(t.boardBytes()), offscreen: b64(packed), unknown, checked, mismatches };
  }, expected.toString('base64'));
  return {
    lastSeq: r.lastSeq,
    truth: Buffer.from(r.truth, 'base64'),
    offscreen: Buffer.from(r.offscreen, 'base64'),
    offscreenUnknown: r.unknown,
    visibleChecked: r.checked,
    visibleMismatches: r.mismatches,
  };
}

/** Waits until the page has applied every seq the server has, then reads the server board and the page. */
export async function settle(page: Page, base: string, timeout = 15_000): Promise<{ server: { bytes: Buffer; seq: number }; drawn: Drawn }> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const server = await serverBoard(base);
    try {
      await page.waitForFunction((seq) => window.__tessera.lastSeq() >= seq, server.seq, { timeout: Math.max(100, deadline - Date.now()), polling: 50 });
    } catch {
      const last = await page.evaluate(() => window.__tessera.lastSeq());
      throw new Error(`page stuck at seq ${last}, server at ${server.seq}`);
    }
    const again = await serverBoard(base);
    if (again.seq !== server.seq && Date.now() < deadline) continue; // still changing
    await painted(page);
    return { server: again, drawn: await readDrawn(page, again.bytes) };
  }
}

/** The screen point (CSS px) at the centre of board pixel (x, y), from the page's own view transform. */
export async function screenOf(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  return page.evaluate(([bx, by]) => window.__tessera.view.boardToScreen(bx + 0.5, by + 0.5), [x, y] as const);
}

