// Seeded fuzzing of the edge: ≥10,000 bad inputs over HTTP and WebSocket against a real service process.
// Replay a failure with FUZZ_SEED=<seed printed below>.
import { connect } from 'node:net';
import t from 'tap';
import WebSocket from 'ws';
import { Prng } from './support/prng.js';
import { put, session, startChild } from './support/service.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const HTTP_CASES = Number(process.env.FUZZ_HTTP_CASES ?? 9000);
const WS_CASES = 1500;

/** Every case must get an answer or a close within this long (a client must never hang on us). */
const ANSWER_WITHIN_MS = 3000;

interface Exchange {
  statuses: number[];
  /** The server closed the connection. */
  closed: boolean;
}

/** Sends raw bytes; resolves with the status codes seen, once a full response or a close arrives (or ANSWER_WITHIN_MS). */
function rawExchange(port: number, data: Buffer, opts: { halfClose?: boolean } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    let closed = false;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ statuses: [...got.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])), closed });
    };
    const timer = setTimeout(done, ANSWER_WITHIN_MS);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      // One full response is enough.
      const head = got.indexOf('\r\n\r\n');
      const len = /Content-Length: (\d+)/i.exec(got);
      if (head >= 0 && (!len || got.length >= head + 4 + Number(len[1]))) done();
    });
    sock.on('close', () => {
      closed = true;
      done();
    });
    sock.on('error', () => undefined);
    sock.write(data);
    if (opts.halfClose) sock.end();
  });
}

/** 505 is uWS's answer to a request line it cannot parse; a well-formed HTTP/1.1 request line must never get it. */
function wellFormedRequestLine(data: Buffer): boolean {
  return /^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(data.subarray(0, 4096).toString('latin1'));
}

const PATHS = ['/api/pixel', '/api/board', '/api/config', '/api/session', '/ws', '/readyz', '/', '/api/pixel?x=1&y=1', '/%00', '/..%2f..%2fetc/passwd', '/api/' + 'a'.repeat(3000)];
const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'HEAD', 'PUTT', 'G\x00ET', ''];

function badBody(r: Prng): Buffer {
  const boundary = () => r.pick([-2, -1, 0, 1, 99, 100, 101, 79, 80, 81, 15, 16, 17, 2 ** 31, 2 ** 53, -0, 0.5, 1e308]);
  const kinds: (() => string | Buffer)[] = [
    () => r.bytes(r.int(200)),
    () => Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]), // invalid UTF-8
    () => '['.repeat(500) + ']'.repeat(500),
    () => '{"a":'.repeat(150) + '1' + '}'.repeat(150),
    () => `{"__proto__":{"x":1,"y":1,"color":1}}`,
    () => `{"constructor":{"prototype":{"x":1}},"x":1,"y":1}`,
    () => `{"x":"${r.int(100)}","y":"${r.int(80)}","color":"${r.int(16)}"}`,
    () => `{"x":${boundary()},"y":${boundary()},"color":${boundary()}}`,
    () => `{"x":1,"y":1,"color":1`,
    () => `{"x":1,"y":1,"color":1,"x":-1}`,
    () => JSON.stringify({ x: 1, y: 1, color: 1, pad: 'p'.repeat(1100) }),
    () => `{"x":NaN,"y":Infinity,"color":1}`,
    () => `\ufeff{"x":1,"y":1,"color":1e1}`,
  ];
  const b = r.pick(kinds)();
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

function badRequest(r: Prng, token: string): { data: Buffer; halfClose?: boolean } {
  const method = r.pick(METHODS);
  const path = r.pick(PATHS);
  const body = badBody(r);
  const ctype = r.pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '', '\x01\x02']);
  const auth = r.pick([`Bearer ${token}`, 'Bearer ' + 'x'.repeat(300), 'Bearer a.b.c', '', `Bearer ${token.slice(0, -3)}`]);
  const shape = r.int(10);
  let head: string;
  switch (shape) {
    case 0: // random bytes instead of a request, then the client is done sending
      return { data: r.bytes(1 + r.int(400)), halfClose: true };
    case 1: // a huge header
      head = `${method} ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(8000 + r.int(60000))}\r\n\r\n`;
      return { data: Buffer.from(head) };
    case 2: // many headers
      head = `GET ${path} HTTP/1.1\r\nHost: x\r\n` + Array.from({ length: 200 + r.int(300) }, (_, i) => `X-H${i}: ${i}`).join('\r\n') + '\r\n\r\n';
      return { data: Buffer.from(head) };
    case 3: // malformed header lines
      head = `${method} ${path} HTTP/1.1\r\nHost x\r\n: novalue\r\nBad\x00Header: 1\r\n\r\n`;
      return { data: Buffer.from(head) };
    case 4: // half-sent body: promises more than it sends, then closes
      head = `PUT /api/pixel HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Length: ${body.length + 50}\r\n\r\n`;
      return { data: Buffer.concat([Buffer.from(head), body]), halfClose: true };
    case 5: // lying content-length (too small)
      head = `PUT /api/pixel HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Length: ${Math.max(0, body.length - 3)}\r\n\r\n`;
      return { data: Buffer.concat([Buffer.from(head), body]) };
    case 6: // invalid HTTP version / request line
      return { data: Buffer.from(`${method} ${path} HTTP/${r.pick(['0.9', '2.0', '1.x', ''])}\r\n\r\n`) };
    default: // a well-formed request with a bad body, method or content type
      head = `${method || 'PUT'} ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${ctype}\r\nAuthorization: ${auth}\r\nContent-Length: ${body.length}\r\n\r\n`;
      return { data: Buffer.concat([Buffer.from(head), body]) };
  }
}

async function rss(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)![1]);
}

t.test(`fuzzing the edge (seed ${SEED})`, async (t) => {
  const svc = await startChild({ COOLDOWN_MS: '0', RATE_LIMIT_REQUESTS_PER_MIN: '0', RATE_LIMIT_SESSIONS_PER_MIN: '0' });
  t.teardown(() => svc.stop());
  const r = new Prng(SEED);
  const { token } = await session(svc.base);
  // Warm up so the baseline includes JIT and buffers.
  for (let i = 0; i < 300; i++) await put(svc.base, token, { x: i % 100, y: 1, color: 2 });
  const baseline = await rss(svc.base);

  // Slow-loris connections held open through the whole run: they must not starve anyone.
  const loris = Array.from({ length: 50 }, () => {
    const s = connect(svc.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write('PUT /api/pixel HTTP/1.1\r\nHost: x\r\n');
    const timer = setInterval(() => s.write('X-a: b\r\n'), 500);
    return { s, timer };
  });

  const bad5xx: string[] = [];
  const unanswered: string[] = [];
  let cases = 0;
  const worker = async () => {
    while (cases < HTTP_CASES) {
      const i = cases++;
      const req = badRequest(r, token);
      const { statuses, closed } = await rawExchange(svc.port, req.data, req);
      const shown = () => `case ${i}: ${JSON.stringify(req.data.subarray(0, 80).toString('latin1'))}`;
      if (statuses.length === 0 && !closed) unanswered.push(shown());
      for (const st of statuses) {
        if (st >= 500 && st !== 503 && !(st === 505 && !wellFormedRequestLine(req.data))) bad5xx.push(`${shown()} → ${st}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));

  // WebSocket: random text, binary, invalid UTF-8, oversized, half-valid place messages.
  let wsCases = 0;
  let wsCloses = 0;
  const open = async () => {
    const ws = new WebSocket(svc.base.replace('http', 'ws') + '/ws', { headers: { authorization: `Bearer ${token}` } });
    ws.on('error', () => undefined);
    await new Promise((res) => {
      ws.once('open', res);
      ws.once('close', res);
    });
    return ws;
  };
  const wsWorker = async () => {
    let ws = await open();
    const per = WS_CASES / 10;
    for (let i = 0; i < per; i++) {
      if (ws.readyState !== WebSocket.OPEN) {
        // Garbage may be answered with a close (invalid UTF-8, oversized): reconnect and go on.
        wsCloses++;
        ws = await open();
      }
      wsCases++;
      const kind = r.int(5);
      if (kind === 0) ws.send(r.bytes(1 + r.int(300)));
      else if (kind === 1) ws.send(badBody(r), { binary: false });
      else if (kind === 2) ws.send(JSON.stringify({ t: 'place', id: i, x: r.pick([-1, 0, 100, '1', null]), y: 1, color: r.pick([16, -1, '3']) }));
      else if (kind === 3) ws.send(JSON.stringify({ t: r.pick(['placex', 1, null, {}]), id: { deep: [1, 2] } }));
      else ws.send('{"t":"place","id":' + '['.repeat(200) + ']'.repeat(200) + '}');
      // Stay under the per-connection message rate so each case is judged, not just the flood rule.
      if (i % 15 === 14) await new Promise((res) => setTimeout(res, 1000));
      else await new Promise((res) => setImmediate(res));
    }
    ws.close();
  };
  await Promise.all(Array.from({ length: 10 }, wsWorker));

  t.comment(`${cases} HTTP cases, ${wsCases} WebSocket cases (${wsCloses} answered with a close)`);
  t.equal(svc.proc.exitCode, null, 'the process never crashed');
  t.same(bad5xx, [], 'no 5xx other than 503 (and 505 only for an unparseable request line)');
  t.same(unanswered.slice(0, 20), [], `every case got an answer or a close within ${ANSWER_WITHIN_MS} ms (${unanswered.length} did not)`);
  t.ok(cases >= HTTP_CASES && wsCases >= WS_CASES, `${cases} HTTP + ${wsCases} WebSocket cases (≥ 10,000)`);
  t.ok(cases + wsCases >= 10_000);
  // The slow-loris sockets are still open here: they must not starve a real client.
  t.equal(loris.filter(({ s }) => !s.destroyed).length, loris.length, 'all 50 slow-loris sockets still open');
  const ok = await put(svc.base, (await session(svc.base)).token, { x: 3, y: 3, color: 3 });
  t.equal(ok.status, 200, 'a valid request is served while the slow-loris sockets are open');
  for (const { s, timer } of loris) {
    clearInterval(timer);
    s.destroy();
  }
  const ws = new WebSocket(svc.base.replace('http', 'ws') + '/ws');
  await new Promise((res) => ws.once('open', res));
  ws.close();
  await new Promise((res) => setTimeout(res, 2000));
  const after = await rss(svc.base);
  t.comment(`RSS baseline ${(baseline / 2 ** 20).toFixed(1)} MiB, after ${(after / 2 ** 20).toFixed(1)} MiB`);
  t.ok(after < baseline + 64 * 2 ** 20, 'memory back near its baseline (within 64 MiB)');
});
