// bench/watchers/listener.c against a small `ws` server: the counts it reports (frames, entries, bytes with
// framing, gaps, duplicates, texts), its pong, its records of sampled sockets, and a refused upgrade.
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { WebSocketServer, type WebSocket } from 'ws';
import { buildListener, CListener } from '../node/load/c-listener.js';

/** An update frame: kind, first seq u32 LE, count u16 LE, then count (irrelevant) entries. */
function frame(kind: number, first: number, count: number): Buffer {
  const b = Buffer.alloc(7 + count * 4, 0xab);
  b[0] = kind;
  b.writeUInt32LE(first, 1);
  b.writeUInt16LE(count, 5);
  return b;
}

/** Bytes on the wire of an unmasked server frame with this payload length. */
const wire = (len: number) => len + (len <= 125 ? 2 : len <= 0xffff ? 4 : 10);

const TEXT = '{"t":"pace","intervalMs":100}';
// seqs 1-3, 4-5, a text, 8 (gap: 6, 7 missing), 8 again (duplicate), a ping, then 9-20008 (64-bit length).
const SCRIPT: (Buffer | string | { ping: string })[] = [frame(1, 1, 3), frame(2, 4, 2), TEXT, frame(1, 8, 1), frame(2, 8, 1), { ping: 'hi' }, frame(1, 9, 20_000)];
const PER_SOCKET_BYTES = SCRIPT.reduce<number>((a, m) => a + wire(typeof m === 'string' ? m.length : 'ping' in m ? 2 : m.length), 0);

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function server(o: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws', ...o });
  await once(wss, 'listening');
  return { wss, port: (wss.address() as AddressInfo).port };
}

t.before(() => {
  buildListener();
});

t.test('counts frames, gaps, dups, texts and bytes; pongs; records every frame of sampled sockets', async (t) => {
  const { wss, port } = await server();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-c-listener-'));
  const records = join(dir, 'frames.rec');
  const sockets: WebSocket[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const pongs: string[] = [];
  const t0 = Date.now();
  wss.on('connection', (ws, req) => {
    sockets.push(ws);
    headers.push(req.headers);
    ws.on('pong', (d) => pongs.push(d.toString()));
    for (const m of SCRIPT) {
      if (typeof m === 'object' && 'ping' in m) ws.ping(m.ping);
      else ws.send(m, { binary: typeof m !== 'string' });
    }
  });
  // 3 sockets, every 2nd sampled: sockets 0 and 2 record.
  const l = new CListener({ port, count: 3, srcBase: 2, sample: 2, recordsFile: records });
  t.teardown(async () => {
    await l.stop();
    wss.close();
    rmSync(dir, { recursive: true, force: true });
  });
  t.same(await l.start(), { open: 3, failed: 0, error: '' });
  await until('three pongs', () => pongs.length === 3);
  await until('every frame', async () => (await l.mark()).frames === 15);

  t.equal(headers[0]['sec-websocket-version'], '13');
  t.equal(headers[0].origin, undefined, 'no Origin header: the server treats it as a non-browser client');
  t.same(pongs, ['hi', 'hi', 'hi'], 'a ping is answered with a pong carrying its payload');

  const mark = await l.mark();
  t.match(mark, { open: 3, frames: 15, entries: 3 * 20_007, bytes: 3 * PER_SOCKET_BYTES, texts: 3 });
  t.ok(mark.ns >= BigInt(t0) * 1_000_000n, 'mark carries CLOCK_REALTIME ns');

  const perSocket = join(dir, 'sockets.txt');
  const s = await l.summary(perSocket);
  t.same(s, { open: 3, closed: 0, failed: 0, frames: 15, entries: 60_021, bytes: 3 * PER_SOCKET_BYTES, texts: 3, gaps: 3, dups: 3, missing: 6, gapFree: 0, minLast: 20_008, maxLast: 20_008 });
  t.equal(readFileSync(perSocket, 'utf8'), [0, 1, 2].map((i) => `${i} open 5 20007 ${PER_SOCKET_BYTES} 1 1 2 1 20008\n`).join(''));

  const rec = readFileSync(records);
  t.equal(rec.length, 2 * 5 * 14, 'sockets 0 and 2: five update frames each, 14 bytes per record');
  const firsts: number[] = [];
  const arrivals: number[] = [];
  for (let off = 0; off < rec.length; off += 14) {
    firsts.push(rec.readUInt32LE(off));
    arrivals.push(Number(rec.readBigUInt64LE(off + 6) / 1_000_000n));
  }
  t.ok(arrivals.every((ms) => ms >= t0 && ms <= Date.now()), 'arrival times are wall-clock ns');
  t.same(firsts.sort((a, b) => a - b), [1, 1, 4, 4, 8, 8, 8, 8, 9, 9]);
  t.equal(rec.readUInt16LE(4), 3, 'count of the first frame');

  // The server closes one socket: the listener answers the close and counts it closed.
  sockets[1].close(1000);
  await until('one socket closed', async () => (await l.summary()).closed === 1);
  t.match(await l.summary(), { open: 2, closed: 1 });
});

t.test('a refused upgrade counts as failed, with the status in the error', async (t) => {
  const { wss, port } = await server({ verifyClient: () => false });
  const l = new CListener({ port, count: 2, srcBase: 5 });
  t.teardown(async () => {
    await l.stop();
    wss.close();
  });
  const r = await l.start();
  t.match(r, { open: 0, failed: 2, error: /^upgrade refused: HTTP\/1\.1 401/ });
});
