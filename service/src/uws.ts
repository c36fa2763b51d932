// The one place that loads uWebSockets.js. Its v20.57 package ships only native addons (no JavaScript
// fallback): on a Node or glibc it has no build for, loading fails, and we say how to fix it instead of
// running anything slower.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Uws from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export class RuntimeError extends Error {
  readonly code = 'runtime_unsupported';
}

export interface UwsRuntime {
  node: string;
  uws: string;
  native: boolean;
}

let loaded: typeof Uws | undefined;

/** The native uWebSockets.js module, or a RuntimeError that names the fix. */
export function loadUws(): typeof Uws {
  if (loaded) return loaded;
  try {
    loaded = require('uWebSockets.js') as typeof Uws;
    return loaded;
  } catch (err) {
    const reason = (err as Error).message.split('\n').filter(Boolean).at(-1);
    throw new RuntimeError(
      `uWebSockets.js ${uwsVersion()} has no native build that loads on Node ${process.version} (ABI ${process.versions.modules}) here: ${reason}. ` +
        'It needs Node 24 on glibc >= 2.38. Start Tessera through scripts/node (npm start, npm run … and the tests do): on an older host it runs Node 24 with Debian 13\'s loader, fetched once (see README "Runtime").',
    );
  }
}

/** The installed uWebSockets.js version, read from its package (its exports hide package.json). */
export function uwsVersion(): string {
  try {
    const main = require.resolve('uWebSockets.js');
    return (JSON.parse(readFileSync(join(dirname(main), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** What the process runs on, for the startup log and /metrics. Native is true once loadUws() succeeded. */
export function uwsRuntime(): UwsRuntime {
  return { node: process.versions.node, uws: uwsVersion(), native: loaded !== undefined };
}
