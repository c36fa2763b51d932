// npm run build: the service (tsc → dist/), its Lua scripts, and the browser client (→ dist/client/).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
const from = join(root, 'service/src/store');
const to = join(root, 'dist/service/src/store');
mkdirSync(to, { recursive: true });
for (const f of readdirSync(from).filter((f) => f.endsWith('.lua'))) copyFileSync(join(from, f), join(to, f));
const client = join(root, 'client/build.mjs');
if (existsSync(client)) execFileSync(process.execPath, [client], { stdio: 'inherit' });
