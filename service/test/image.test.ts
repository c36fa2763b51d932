// The container image without a Docker engine: read the Dockerfile, replay its
// stages in a temp directory, start the runtime stage's CMD and probe it.
//
// Replayed faithfully: the build context filtered by .dockerignore, each
// stage's WORKDIR/ENV/COPY (incl. COPY --from=build), the runtime stage's
// `npm ci` (production dependencies from the registry, into an empty dir), its
// HEALTHCHECK command and its CMD, with the environment the image defines.
// Not replayable here, and so only checked by reading: FROM (the host must be
// the same Node major/ABI instead), USER (must not be root), and the build
// stage's dev-dependency `npm ci`, for which the repository's own
// node_modules is linked in (same lockfile; saves minutes per run).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import t from 'tap';
import { freePort, startRedis } from './support/redis-server.js';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
// Node 24 on Debian 13 (glibc 2.41): the uWebSockets.js v20.57 binaries need glibc >= 2.38.
const BASE_IMAGE = 'node:24-trixie-slim';

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile → stages; handles comments, parser directives and `\` continuations. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ');
      i++;
      if (!/^\s*#/.test(lines[i])) line += lines[i].trim();
    }
    const m = /^\s*(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile:${start}: cannot parse "${line}"`);
    const op = m[1].toUpperCase();
    const args = m[2].trim();
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile:${start}: cannot parse FROM ${args}`);
      stages.push({ image: f[1], name: f[2], instructions: [] });
    } else {
      if (!stages.length) throw new Error(`Dockerfile:${start}: ${op} before FROM`);
      stages.at(-1)!.instructions.push({ op, args, line: start });
    }
  }
  return stages;
}

/** `CMD ["a","b"]` → ["a","b"]; shell form is refused (sh would be PID 1). */
function execForm(args: string, what: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(args);
  } catch {
    throw new Error(`${what} must be exec form (JSON array), got: ${args}`);
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`${what}: not a string array`);
  return v as string[];
}

/** ENV a=b c="d e" and legacy ENV a b. */
function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!/^\S+=/.test(args)) {
    const [k, ...rest] = args.split(/\s+/);
    out[k] = rest.join(' ');
    return out;
  }
  for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    out[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
  }
  return out;
}

/** Splits leading --flag=value options off an instruction's arguments. */
function flags(args: string): { flags: Record<string, string>; rest: string } {
  const out: Record<string, string> = {};
  let rest = args;
  for (let m; (m = /^--([\w-]+)(?:=(\S+))?\s+/.exec(rest)); ) {
    out[m[1]] = m[2] ?? '';
    rest = rest.slice(m[0].length);
  }
  return { flags: out, rest };
}

// ----------------------------------------------------------- .dockerignore

/** Docker's .dockerignore semantics: Go-style globs plus **, last match wins, `!` re-includes. */
function dockerIgnore(text: string): (rel: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pat = posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
      let re = '';
      for (let i = 0; i < pat.length; i++) {
        const c = pat[i];
        if (c === '*' && pat[i + 1] === '*') {
          const slash = pat[i + 2] === '/';
          re += slash ? '(?:.*/)?' : '.*';
          i += slash ? 2 : 1;
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (rel) => {
    // A path is excluded if it, or a directory above it, matches.
    const parts = rel.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const r of rules) if (prefixes.some((p) => r.re.test(p))) excluded = !r.negate;
    return excluded;
  };
}

/** Copies the build context (what `docker build .` would send) into dir. */
function copyContext(ignored: (rel: string) => boolean, src: string, dest: string, only?: string[]) {
  const walk = (rel: string) => {
    const abs = join(src, rel);
    if (rel && ignored(rel)) return;
    const st = lstatSync(abs);
    if (st.isDirectory()) {
      mkdirSync(join(dest, rel), { recursive: true });
      for (const e of readdirSync(abs)) walk(rel ? `${rel}/${e}` : e);
    } else {
      mkdirSync(dirname(join(dest, rel)), { recursive: true });
      cpSync(abs, join(dest, rel), { verbatimSymlinks: true });
    }
  };
  for (const s of only ?? ['']) {
    if (ignored(s)) throw new Error(`COPY ${s}: excluded by .dockerignore`);
    walk(s);
  }
}

// ------------------------------------------------------------------ replay

interface Replayed {
  workdir: string;
  env: Record<string, string>;
  user?: string;
  healthcheck?: string[];
  cmd?: string[];
  notes: string[];
}

/**
 * Replays one stage in `fsRoot` (the stage's "/"). Container paths map to
 * fsRoot + path. `ctx.stageRoots` resolves COPY --from=<name>.
 */
function replay(stage: Stage, fsRoot: string, ctx: { ignored: (rel: string) => boolean; stageRoots: Record<string, string>; npmCache: string; linkDevDeps: boolean }): Replayed {
  const st: Replayed = { workdir: join(fsRoot, '/'), env: {}, notes: [] };
  const inRoot = (p: string, base: string) => (p.startsWith('/') ? join(fsRoot, p) : join(base, p));
  const mapEnv = (v: string) => (v.startsWith('/') ? join(fsRoot, v) : v);
  for (const ins of stage.instructions) {
    const at = `Dockerfile:${ins.line} ${ins.op}`;
    switch (ins.op) {
      case 'WORKDIR':
        st.workdir = inRoot(ins.args, st.workdir);
        mkdirSync(st.workdir, { recursive: true });
        break;
      case 'ENV':
        for (const [k, v] of Object.entries(parseEnv(ins.args))) st.env[k] = mapEnv(v);
        break;
      case 'COPY': {
        const { flags: f, rest } = flags(ins.args);
        const parts = rest.startsWith('[') ? execForm(rest, at) : rest.split(/\s+/);
        const dest = inRoot(parts.pop()!, st.workdir);
        if (f.from) {
          const from = ctx.stageRoots[f.from];
          if (!from) throw new Error(`${at}: unknown stage ${f.from}`);
          for (const s of parts) {
            if (!s.startsWith('/')) throw new Error(`${at}: use absolute paths with --from`);
            const target = parts.length > 1 || dest.endsWith('/') ? join(dest, posix.basename(s)) : dest;
            cpSync(join(from, s), target, { recursive: true });
          }
        } else {
          const rels = parts.map((s) => posix.normalize(s).replace(/^\.\/?|\/$/g, ''));
          if (rels.length === 1 && rels[0] === '') copyContext(ctx.ignored, ROOT, dest);
          else {
            for (const rel of rels) {
              if (rel.includes('/') || !lstatSync(join(ROOT, rel)).isFile()) throw new Error(`${at}: only "." and top-level files are replayed; extend the test for ${rel}`);
              copyContext(ctx.ignored, ROOT, dest, [rel]);
            }
          }
        }
        break;
      }
      case 'RUN': {
        const { rest: cmd } = flags(ins.args); // --mount=type=cache etc. only affect Docker's caching
        if (/^npm ci\b/.test(cmd) && ctx.linkDevDeps) {
          if (/--omit[= ]dev/.test(cmd)) throw new Error(`${at}: the build stage needs dev dependencies`);
          symlinkSync(join(ROOT, 'node_modules'), join(st.workdir, 'node_modules'));
          st.notes.push(`${at}: linked the repository's node_modules instead of "${cmd}"`);
        } else if (/^(npm|node)\s/.test(cmd)) {
          const r = spawnSync('sh', ['-c', cmd], {
            cwd: st.workdir,
            env: { PATH: process.env.PATH!, HOME: join(fsRoot, 'root'), npm_config_cache: ctx.npmCache, ...st.env },
            encoding: 'utf8',
            timeout: 280_000,
          });
          if (r.status !== 0) throw new Error(`${at} "${cmd}" failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
          st.notes.push(`${at}: ran "${cmd}"`);
        } else {
          st.notes.push(`${at}: skipped "${cmd}" (not an npm/node command)`);
        }
        break;
      }
      case 'USER':
        st.user = ins.args;
        break;
      case 'HEALTHCHECK': {
        const { rest } = flags(ins.args);
        const m = /^CMD\s+(.*)$/.exec(rest);
        if (!m) throw new Error(`${at}: expected HEALTHCHECK [options] CMD [...]`);
        st.healthcheck = execForm(m[1], at);
        break;
      }
      case 'CMD':
        st.cmd = execForm(ins.args, at);
        break;
      case 'ENTRYPOINT':
        throw new Error(`${at}: this test assumes CMD alone starts node as PID 1`);
      case 'EXPOSE':
      case 'STOPSIGNAL':
      case 'LABEL':
      case 'ARG':
        break;
      default:
        throw new Error(`${at}: not understood by this test; extend it`);
    }
  }
  return st;
}

// ------------------------------------------------------------------- tests

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const ignored = dockerIgnore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const runtime = dockerfile.at(-1)!;
const build = dockerfile.find((s) => s.name === 'build');

t.test('the Dockerfile has the agreed shape', async (t) => {
  t.ok(dockerfile.length >= 2, 'multi-stage');
  t.ok(build, 'a stage named "build"');
  t.equal(build?.image, BASE_IMAGE);
  t.equal(runtime.image, BASE_IMAGE);
  t.not(runtime, build, 'the runtime stage is not the build stage');
  const runs = runtime.instructions.filter((i) => i.op === 'RUN').map((i) => flags(i.args).rest);
  t.ok(runs.some((r) => /^npm ci\b.*--omit[= ]dev/.test(r)), 'runtime installs production dependencies only');
  t.notOk(runs.some((r) => /npm run build|tsc/.test(r)), 'nothing is compiled in the runtime stage');
  t.ok(build!.instructions.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)), 'build stage runs npm run build');
  const user = runtime.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
  t.ok(user && !/^(root|0)(:|$)/.test(user), `runs as a non-root user (${user})`);
  const cmd = execForm(runtime.instructions.filter((i) => i.op === 'CMD').at(-1)!.args, 'CMD');
  t.same(cmd, ['node', 'dist/service/src/main.js'], 'node itself is PID 1');
  t.equal(process.versions.node.split('.')[0], BASE_IMAGE.split(':')[1].split('-')[0], 'the Node replaying the image has its major (scripts/node)');
  t.equal(process.versions.modules, '137', 'and so does the native module ABI (Node 24)');
  for (const p of ['node_modules', 'dist', '.git', 'data', 'bench/results', 'coverage', '.env']) {
    t.ok(ignored(p), `.dockerignore excludes ${p}`);
  }
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'service/src/main.ts', 'scripts/build.mjs']) {
    t.notOk(ignored(p), `.dockerignore keeps ${p}`);
  }
});

t.test('the runtime stage, reproduced, serves /healthz', { timeout: 600_000 }, async (t) => {
  const sandbox = mkdtempSync(join(tmpdir(), 'tessera-image-'));
  t.teardown(() => rmSync(sandbox, { recursive: true, force: true }));
  // A cache of our own: keeps the user's npm cache untouched, and the install
  // really fetches what the lockfile names.
  const npmCache = join(sandbox, 'npm-cache');
  const stageRoots: Record<string, string> = {};

  const buildRoot = join(sandbox, 'build');
  const built = replay(build!, buildRoot, { ignored, stageRoots, npmCache, linkDevDeps: true });
  stageRoots.build = buildRoot;
  for (const n of built.notes) t.comment(n);
  t.ok(existsSync(join(built.workdir, 'dist/service/src/main.js')), 'build stage produced the service');

  const rtRoot = join(sandbox, 'runtime');
  const rt = replay(runtime, rtRoot, { ignored, stageRoots, npmCache, linkDevDeps: false });
  for (const n of rt.notes) t.comment(n);
  t.ok(rt.cmd && rt.healthcheck, 'CMD and HEALTHCHECK present');
  const modules = join(rt.workdir, 'node_modules');
  t.ok(existsSync(join(modules, 'uWebSockets.js')), 'production dependency installed');
  for (const dev of ['typescript', '@pulumi', 'tap', 'esbuild']) t.notOk(existsSync(join(modules, dev)), `no ${dev} in the image`);
  t.notOk(existsSync(join(rt.workdir, 'service/src')), 'no sources in the image');
  t.ok(existsSync(join(rt.workdir, 'dist/client/index.html')), 'the browser client is in the image');

  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const port = await freePort();
  // Only what the image defines plus what ECS would pass: no tap loaders,
  // no coverage hooks, nothing from the repository.
  const env = {
    PATH: process.env.PATH!,
    HOME: join(rtRoot, 'home/node'),
    ...rt.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_URL: redis.url,
    SESSION_SECRET: 'image-test-secret-0123456789-abcdefghij',
    LOG_LEVEL: 'info',
  };
  const [cmd, ...args] = rt.cmd!;
  const resolveBin = (c: string) => (c === 'node' ? process.execPath : c);
  let output = '';
  const proc: ChildProcess = spawn(resolveBin(cmd), args, { cwd: rt.workdir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  let health: Response | undefined;
  while (Date.now() < deadline && proc.exitCode === null) {
    health = await fetch(`${base}/healthz`).catch(() => undefined);
    if (health) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!health) t.fail(`service did not answer; output:\n${output}`);
  t.equal(health?.status, 200, 'GET /healthz → 200');

  const hc = spawnSync(resolveBin(rt.healthcheck![0]), rt.healthcheck!.slice(1), { cwd: rt.workdir, env, timeout: 10_000 });
  t.equal(hc.status, 0, "the image's HEALTHCHECK command passes");

  // Ready once Redis is subscribed (the ALB health check).
  let ready = 0;
  for (let i = 0; i < 50 && ready !== 200; i++) {
    ready = (await fetch(`${base}/readyz`)).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(ready, 200, 'GET /readyz → 200 with Redis');
  const metrics = await (await fetch(`${base}/metrics`)).text();
  t.match(metrics, /^tessera_uws_native 1$/m, 'native uWebSockets.js loads from the production install');
  t.match(metrics, /^tessera_runtime_info\{node="24\.\d+\.\d+",uws="20\.57\.0",native="true"\} 1$/m, 'Node 24 and uWS v20.57 native, as the image ships them');
  const board = await fetch(`${base}/api/board`);
  t.equal(board.status, 200);
  t.equal(board.headers.get('cache-control'), 'public, max-age=3', 'what the CloudFront /api/board policy assumes');
  t.ok(board.headers.get('x-canvas-seq'), 'X-Canvas-Seq header');
  const page = await fetch(`${base}/`);
  t.equal(page.status, 200, 'the client is served');
  t.match(page.headers.get('cache-control') ?? '', /no-cache/, 'index.html revalidated');

  // PID 1 semantics: SIGTERM straight to node drains and exits in time.
  const t0 = Date.now();
  proc.kill('SIGTERM');
  const end = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 12_000))]);
  t.ok(end, `exited after SIGTERM (${Date.now() - t0} ms)`);
  t.equal(end?.code, 0, 'clean exit');
  t.ok(Date.now() - t0 < 10_500, 'within 10 s');
  if (t.passing() === false) t.comment(output);
});
