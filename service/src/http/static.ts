// The built browser client: index.html revalidated on every load, hashed assets cached for a year.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { ApiError } from '../wire/errors.js';
import { send, sendError, track, type Headers } from './respond.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Served with every page: no framing (clickjacking), no inline script, sockets only to us. */
export const PAGE_SECURITY_HEADERS: Headers = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

export function registerStatic(app: TemplatedApp, ctx: Context): void {
  const dir = ctx.config.staticDir;
  const files = new Map<string, { body: Buffer; headers: Headers }>();
  if (existsSync(join(dir, 'index.html'))) {
    for (const file of walk(dir)) {
      const url = '/' + relative(dir, file).split('\\').join('/');
      const hashed = url.startsWith('/assets/');
      files.set(url, {
        body: readFileSync(file),
        headers: {
          'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
          'Cache-Control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
          ...PAGE_SECURITY_HEADERS,
        },
      });
    }
    files.set('/', files.get('/index.html')!);
    ctx.log.info({ dir, files: files.size }, 'serving the browser client');
  } else {
    ctx.log.warn({ dir }, 'no built client found (run npm run build); serving the API only');
  }

  app.get('/*', (res, req) => {
    const reply = track(res);
    const url = req.getUrl();
    const file = files.get(url);
    if (file) send(reply, 200, file.body, file.headers);
    else if (url.startsWith('/api/')) sendError(reply, new ApiError('not_found', `no route ${url}`));
    else if (!extname(url) && files.has('/')) send(reply, 200, files.get('/')!.body, files.get('/')!.headers);
    else sendError(reply, new ApiError('not_found', `no file ${url}`), PAGE_SECURITY_HEADERS);
  });
  app.any('/*', (res, req) => {
    const reply = track(res);
    sendError(reply, new ApiError('method_not_allowed', `${req.getMethod().toUpperCase()} ${req.getUrl()} is not supported`));
  });
}
