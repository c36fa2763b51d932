// Builds the client for the browser tests when dist/client is missing or older than its sources.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const STATIC_DIR = join(ROOT, 'dist/client');
const SOURCES = ['client/src', 'client/index.html', 'client/styles.css', 'client/build.mjs', 'client/favicon.svg', 'service/src/wire'];

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

/** Builds dist/client when it is missing or older than its sources; test files running in parallel take turns. */
export async function ensureClientBuilt(): Promise<string> {
  const lock = join(ROOT, 'dist/.client-build.lock');
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run is stale after a minute.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (Date.now() > deadline || (held && Date.now() - held.mtimeMs > 60_000)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    const index = join(STATIC_DIR, 'index.html');
    const stale = !existsSync(index) || Math.max(...SOURCES.map((s) => newest(join(ROOT, s)))) > statSync(index).mtimeMs;
    if (stale) execFileSync(process.execPath, [join(ROOT, 'client/build.mjs')], { stdio: 'inherit' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return STATIC_DIR;
}

