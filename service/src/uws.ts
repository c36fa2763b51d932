// Which uWebSockets.js build is loaded: the native addon, or the package's slow pure-JS fallback.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** True when the native addon for this Node ABI exists and is what `uWebSockets.js` resolved to. */
export function uwsIsNative(): boolean {
  if (process.env.UWS_USE_FALLBACK && !['0', 'false'].includes(process.env.UWS_USE_FALLBACK.toLowerCase())) return false;
  const pkgDir = dirname(dirname(require.resolve('uWebSockets.js')));
  const binary = join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  if (!existsSync(binary)) return false;
  try {
    return require('uWebSockets.js') === require(binary);
  } catch {
    return false;
  }
}
