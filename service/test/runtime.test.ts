// The runtime the service runs on (issue: Node 24 + uWebSockets.js v20.57, native) and the HTTP answers
// that the old 2023 build never gave: HTTP/1.0 and Host-less HTTP/1.1 requests must not hang a client.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startChild, startInProcess, testEnv } from './support/service.js';

/** Sends raw bytes and resolves with the status line and how long it took (or null after 2 s). */
function rawRequest(port: number, request: string): Promise<{ status: string | null; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let data = '';
    const sock = connect(port, '127.0.0.1', () => sock.write(request));
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ status: data ? data.split('\r\n')[0] : null, ms: Date.now() - t0 });
    };
    const timer = setTimeout(done, 2000);
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) done();
    });
    sock.on('close', done);
    sock.on('error', done);
  });
}

t.test('HTTP/1.0 and Host-less HTTP/1.1 get a clear error within 1 s', async (t) => {
  const s = await startInProcess();
  t.teardown(() => s.stop());
  const cases: [string, string, RegExp][] = [
    ['HTTP/1.0 without Host', 'GET /healthz HTTP/1.0\r\n\r\n', /^HTTP\/1\.1 (4\d\d|505) /],
    ['HTTP/1.0 with Host', 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n', /^HTTP\/1\.1 (4\d\d|505) /],
    ['HTTP/1.1 without Host', 'GET /healthz HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 4\d\d /],
  ];
  for (const [name, req, want] of cases) {
    const r = await rawRequest(s.port, req);
    t.match(r.status ?? 'no answer', want, `${name} → ${r.status ?? 'no answer'}`);
    t.ok(r.ms < 1000, `${name} answered in ${r.ms} ms`);
  }
  // The ALB's health check (HTTP/1.1 with Host) still gets its 200.
  const ok = await rawRequest(s.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  t.match(ok.status, /^HTTP\/1\.1 200 /, 'HTTP/1.1 with Host → 200');
});

t.test('the process reports Node 24 and native uWebSockets.js v20.57 in /metrics and its startup log', async (t) => {
  const svc = await startChild({ LOG_LEVEL: 'info' });
  t.teardown(() => svc.stop());
  const metrics = await (await fetch(`${svc.base}/metrics`)).text();
  t.match(metrics, /^tessera_uws_native 1$/m, 'native');
  const info = /^tessera_runtime_info\{node="([\d.]+)",uws="([\d.]+)",native="(\w+)"\} 1$/m.exec(metrics);
  t.ok(info, 'tessera_runtime_info present');
  t.equal(info?.[1].split('.')[0], '24', `Node ${info?.[1]}`);
  t.equal(info?.[2], '20.57.0', 'uWebSockets.js v20.57.0');
  t.equal(info?.[3], 'true', 'native');
  const listening = svc.output().split('\n').find((l) => l.includes('tessera listening'));
  t.ok(listening, 'startup log line');
  const line = JSON.parse(listening ?? '{}') as { node?: string; uws?: string; native?: boolean };
  t.same({ node: line.node?.split('.')[0], uws: line.uws, native: line.native }, { node: '24', uws: '20.57.0', native: true }, 'startup log names the runtime');
});

t.test('without a native uWebSockets.js the service refuses to start and says how to fix it', async (t) => {
  // Simulates a host where the addon cannot load (wrong Node, old glibc): the require itself fails.
  const dir = mkdtempSync(join(tmpdir(), 'tessera-runtime-'));
  const preload = join(dir, 'no-uws.cjs');
  writeFileSync(
    preload,
    "const M = require('node:module'); const load = M._load;\n" +
      "M._load = function (req, ...rest) { if (req === 'uWebSockets.js') throw new Error('simulated: GLIBC_2.38 not found'); return load.call(this, req, ...rest); };\n",
  );
  const main =
    process.env.TESSERA_TEST_DIST === '1'
      ? [new URL('../../dist/service/src/main.js', import.meta.url).pathname]
      : [...process.execArgv.filter((a) => !a.startsWith('--inspect')), new URL('../src/main.ts', import.meta.url).pathname];
  const r = spawnSync(process.execPath, ['--require', preload, ...main], { env: { ...process.env, ...testEnv() }, encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 3, 'exit code 3');
  t.match(r.stderr, /cannot start: uWebSockets\.js .* has no native build .*simulated: GLIBC_2\.38 not found.*scripts\/node/s, 'names the cause and the fix');
  t.notMatch(r.stdout, /Tessera is running/, 'never listened');
});
