// Seek latency in the page: headless Chromium opens the built client, enters history mode and asks for random
// moments; each seek is timed in the page from the call until the board at that moment is painted (two animation
// frames after it is applied), cold (keyframes and ranges not yet fetched) and warm.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { percentiles, type Percentiles } from '../stats.js';

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean) as string[];

export interface SeekResult {
  cold: Percentiles;
  warm: Percentiles;
  all: Percentiles;
  /** Seeks whose board had the seq the page was asked for (a check that the benchmark measured real seeks). */
  seqs: number[];
  moments: number[];
}

// The page's hooks, typed loosely: this file compiles without the DOM library.
type Page = { __tesseraHistory: { seekTo(m: number): Promise<void>; seq(): number; bounds(): { start: number; end: number }; active(): boolean } };

export async function measureSeeks(base: string, o: { cold: number; warm: number; seed?: number }): Promise<SeekResult & { bounds: { start: number; end: number } }> {
  const executablePath = CHROMIUM.find((p) => existsSync(p));
  if (!executablePath) throw new Error('no Chromium (set CHROMIUM_PATH)');
  const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 })).newPage();
    await page.goto(`${base}/#500,500,0.7`);
    await page.waitForFunction(() => typeof (globalThis as unknown as Page).__tesseraHistory === 'object', undefined, { timeout: 30_000 });
    await page.click('#tool-history');
    await page.waitForFunction(() => (globalThis as unknown as Page).__tesseraHistory.active() && (globalThis as unknown as Page).__tesseraHistory.seq() > 0, undefined, { timeout: 60_000 });
    const bounds = await page.evaluate(() => (globalThis as unknown as Page).__tesseraHistory.bounds());
    let s = o.seed ?? 2026;
    const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const moments = Array.from({ length: o.cold + o.warm }, () => Math.floor(bounds.start + rnd() * (bounds.end - bounds.start)));
    const times = await page.evaluate(async (ms: number[]) => {
      const h = (globalThis as unknown as Page).__tesseraHistory;
      const out: { ms: number; seq: number }[] = [];
      for (const m of ms) {
        const t0 = performance.now();
        await h.seekTo(m);
        out.push({ ms: performance.now() - t0, seq: h.seq() });
      }
      return out;
    }, moments);
    const cold = times.slice(0, o.cold).map((t) => t.ms);
    const warm = times.slice(o.cold).map((t) => t.ms);
    return { cold: percentiles(cold), warm: percentiles(warm), all: percentiles([...cold, ...warm]), seqs: times.map((t) => t.seq), moments, bounds };
  } finally {
    await browser.close();
  }
}
