// Bundles the browser client into dist/client/: content-hashed assets (served immutable, CDN-cacheable for a
// year) and an index.html (revalidated on every load) that names them. Run by `npm run build`, or alone:
//   node client/build.mjs [--out <dir>]
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? resolve(process.argv[outArg + 1]) : join(root, 'dist/client');
// Build next to the target and swap it in, so a server reading dist/client never sees half a build.
const staging = `${out}.staging-${process.pid}`;
rmSync(staging, { recursive: true, force: true });

// The proof-of-work worker first: a classic (iife) worker, since Firefox < 114 has no module workers; main learns
// its hashed URL through a define. Same origin, so the page CSP (default-src 'self') lets it start.
const workerEntry = 'client/src/pow-worker.ts';
const worker = await build({
  absWorkingDir: root,
  entryPoints: { 'pow-worker': workerEntry },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  outdir: join(staging, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const workerFile = Object.entries(worker.metafile.outputs).find(([f, m]) => m.entryPoint === workerEntry && f.endsWith('.js'))?.[0];
if (!workerFile) throw new Error(`esbuild produced no .js for ${workerEntry}`);
const workerUrl = '/' + relative(staging, join(root, workerFile)).split('\\').join('/');

// The projects' push service worker at a fixed root URL (a worker's scope is its directory; the page registers
// /push-sw.js by name), served no-cache like index.html.
await build({
  absWorkingDir: root,
  entryPoints: ['client/src/projects/push-sw.ts'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  outfile: join(staging, 'push-sw.js'),
  legalComments: 'none',
  logLevel: 'warning',
});

const entries = { main: 'client/src/main.ts', styles: 'client/styles.css' };
const result = await build({
  define: { __POW_WORKER_URL__: JSON.stringify(workerUrl) },
  absWorkingDir: root,
  entryPoints: entries,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  outdir: join(staging, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

/** The hashed file esbuild wrote for one entry point, as a URL path. */
function assetFor(entry, ext) {
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint === entry && file.endsWith(ext)) return '/' + relative(staging, join(root, file)).split('\\').join('/');
  }
  throw new Error(`esbuild produced no ${ext} for ${entry}`);
}

const html = readFileSync(join(root, 'client/index.html'), 'utf8')
  .replace('href="./styles.css"', `href="${assetFor(entries.styles, '.css')}"`)
  .replace('src="./src/main.ts"', `src="${assetFor(entries.main, '.js')}"`);
if (html.includes('./src/main.ts') || html.includes('./styles.css')) throw new Error('client/index.html: asset placeholders not found');
mkdirSync(staging, { recursive: true });
writeFileSync(join(staging, 'index.html'), html);
writeFileSync(join(staging, 'favicon.svg'), readFileSync(join(root, 'client/favicon.svg')));

const old = `${out}.old-${process.pid}`;
mkdirSync(dirname(out), { recursive: true });
if (existsSync(out)) renameSync(out, old);
renameSync(staging, out);
rmSync(old, { recursive: true, force: true });
console.log(`client: built ${basename(assetFor(entries.main, '.js'))} and ${basename(assetFor(entries.styles, '.css'))} into ${relative(process.cwd(), out) || out}`);
