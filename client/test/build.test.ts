// The build: hashed assets named by index.html, nothing inline that the page's CSP would block, served
// with the right caching; and the browser typecheck passes.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInProcess } from '../../service/test/support/service.js';
import { ROOT } from './support/build.js';

const scratch = mkdtempSync(join(tmpdir(), 'tessera-client-build-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const out = join(scratch, 'client');
execFileSync(process.execPath, [join(ROOT, 'client/build.mjs'), '--out', out], { stdio: 'pipe' });

t.test('index.html names content-hashed assets and has nothing inline', async (t) => {
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  const assets = readdirSync(join(out, 'assets'));
  const js = assets.find((f) => /^main-[A-Z0-9]{8}\.js$/.test(f));
  const css = assets.find((f) => /^styles-[A-Z0-9]{8}\.css$/.test(f));
  t.ok(js && css, `hashed names: ${assets.join(', ')}`);
  t.ok(assets.includes(`${js}.map`) && assets.includes(`${css}.map`), 'with source maps');
  t.match(html, `<script type="module" src="/assets/${js}"></script>`);
  t.match(html, `<link rel="stylesheet" href="/assets/${css}">`);
  t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script (CSP script-src self)');
  t.notMatch(html, /\sstyle=/, 'no inline style attribute (CSP style-src self)');
  t.notMatch(html, /\son[a-z]+=/, 'no inline event handler');
  const bundle = readFileSync(join(out, 'assets', js!), 'utf8');
  t.notMatch(bundle, /\beval\(|new Function\(/, 'no eval in the bundle');
  t.ok(bundle.length < 100_000, `bundle is ${bundle.length} bytes`);

  // Building twice gives the same names: unchanged files keep their cache entries.
  execFileSync(process.execPath, [join(ROOT, 'client/build.mjs'), '--out', out], { stdio: 'pipe' });
  t.same(readdirSync(join(out, 'assets')).sort(), assets.sort(), 'deterministic names, no leftovers');
});

t.test('the service serves it: index revalidated, assets immutable, CSP on the page', async (t) => {
  const server = await startInProcess({ STATIC_DIR: out });
  t.teardown(() => server.stop());
  const page = await fetch(`${server.base}/`);
  t.equal(page.status, 200);
  t.equal(page.headers.get('cache-control'), 'no-cache');
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  const html = await page.text();
  const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
  const asset = await fetch(`${server.base}${js}`);
  t.equal(asset.status, 200);
  t.match(asset.headers.get('cache-control'), /immutable/);
  t.match(asset.headers.get('content-type'), /javascript/);
  t.equal((await fetch(`${server.base}/favicon.svg`)).status, 200, 'favicon');
});

t.test('browser typecheck (tsc -p client/tsconfig.json) passes', async (t) => {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'client/tsconfig.json'), '--noEmit'], { stdio: 'pipe' });
  } catch (err) {
    output = String((err as { stdout?: Buffer }).stdout ?? err);
  }
  t.equal(output, '', 'no type errors');
});
