// The bare uWebSockets.js servers the ceilings are measured on (BARE_MODE, comma-separated):
//   validate — (a) PUT /api/pixel: read the body, verify the token, parse and validate; no Redis
//   lua      — (c) the same, then one placement-script call per request (no grouping)
//   fanout   — (d) /ws; a Redis subscriber → one binary frame per 50 ms → app.publish (also the
//              bare server of the idle-socket RSS comparison)
// Prints "listening <port>" once ready. Env: PORT, REDIS_URL, SESSION_SECRET.
import uws from 'uWebSockets.js';
import { Redis } from 'ioredis';
import { Tokens, tokenFrom } from '../../../service/src/auth/token.js';
import { encodeFrames } from '../../../service/src/wire/frames.js';
import { parsePixelBody } from '../../../service/src/wire/messages.js';
import { KEYS, placeGroup, scriptRedis } from '../lua.js';

const modes = new Set((process.env.BARE_MODE ?? 'validate').split(','));
const tokens = new Tokens([Buffer.from(process.env.SESSION_SECRET ?? '')], 3600);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = modes.has('lua') ? scriptRedis(redisUrl, false) : undefined;
const app = uws.App();
let fakeSeq = 0;

function answer(res: uws.HttpResponse, status: string, body: string): void {
  res.cork(() => res.writeStatus(status).writeHeader('Content-Type', 'application/json').end(body));
}

if (modes.has('validate') || modes.has('lua')) {
  app.put('/api/pixel', (res, req) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const session = tokens.verify(tokenFrom(req.getHeader('authorization'), req.getHeader('cookie')));
    const chunks: Buffer[] = [];
    res.onData((chunk, last) => {
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!last) return;
      if (!session) return answer(res, '401 Unauthorized', '{"error":"no_session"}');
      const pixel = parsePixelBody(Buffer.concat(chunks), 1000, 1000);
      if (!pixel.ok) return answer(res, '400 Bad Request', '{"error":"invalid_pixel"}');
      if (!redis) return answer(res, '200 OK', JSON.stringify({ seq: ++fakeSeq, nextPlacementAt: Date.now() + 300_000 }));
      placeGroup(redis, [{ ...pixel.value, userId: session.userId }]).then(
        ([r]) => {
          if (aborted) return;
          if (r > 0) answer(res, '200 OK', JSON.stringify({ seq: r, nextPlacementAt: Date.now() + 300_000 }));
          else answer(res, '429 Too Many Requests', '{"error":"cooldown"}');
        },
        () => !aborted && answer(res, '503 Service Unavailable', '{"error":"unavailable"}'),
      );
    });
  });
}

if (modes.has('fanout')) {
  app.ws('/ws', { compression: uws.DISABLED, maxBackpressure: 1 << 20, closeOnBackpressureLimit: true, idleTimeout: 120, open: (ws) => {
      ws.subscribe('updates');
    },
  });
  // Messages are "<first seq u32><entry u32>…" (place.lua); frames are Tessera's own (wire/frames.ts), so the
  // ceiling pays for the same encoding and sends the same bytes as the fan-out it is compared with.
  const sub = new Redis(redisUrl);
  let first = 0;
  let entries: number[] = [];
  sub.on('messageBuffer', (_ch: Buffer, msg: Buffer) => {
    if (entries.length === 0) first = msg.readUInt32LE(0);
    for (let off = 4; off + 4 <= msg.length; off += 4) entries.push(msg.readUInt32LE(off));
  });
  setInterval(() => {
    if (entries.length === 0) return;
    const frames = encodeFrames(first, entries);
    entries = [];
    for (const frame of frames) app.publish('updates', frame, true);
  }, 50);
  await sub.subscribe(KEYS.channel);
}

app.get('/readyz', (res) => {
  res.end('ok');
});
app.listen('127.0.0.1', Number(process.env.PORT ?? 0), (s) => {
  if (!s) throw new Error('cannot listen');
  console.log(`listening ${uws.us_socket_local_port(s)}`);
});
