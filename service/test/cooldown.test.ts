// The cooldown is one atomic check-and-set per user, whichever way and wherever the placements arrive:
// HTTP and WebSocket at the same moment, on one container or on two sharing a Redis.
import t from 'tap';
import { startRedis } from './support/redis-server.js';
import { put, session, startChild, startInProcess } from './support/service.js';
import { listen, type Listener } from './support/ws-client.js';

const PER_PATH = 20;

interface Target {
  base: string;
}

/** Fires PER_PATH PUTs and PER_PATH socket placements at every target at once; resolves with every answer. */
async function burst(targets: Target[], token: string): Promise<{ accepted: number[]; refused: Record<string, number> }> {
  const sockets: Listener[] = await Promise.all(targets.map((x) => listen(`${x.base.replace('http', 'ws')}/ws`, { headers: { authorization: `Bearer ${token}` } })));
  try {
    const answers: Promise<{ ok: boolean; code: string; seq?: number }>[] = [];
    let id = 0;
    for (const [i, target] of targets.entries()) {
      for (let n = 0; n < PER_PATH; n++) {
        const x = id++ % 100;
        answers.push(put(target.base, token, { x, y: 1, color: 3 }).then((r) => ({ ok: r.status === 200, code: r.status === 200 ? 'ok' : String(r.body?.error), seq: r.body?.seq })));
        const msgId = id++;
        sockets[i].send({ t: 'place', id: msgId, x: msgId % 100, y: 2, color: 4 });
        answers.push(
          sockets[i]
            .waitForText((m) => (m.t === 'ack' || m.t === 'error') && m.id === msgId, 10_000)
            .then((m) => ({ ok: m.t === 'ack', code: m.t === 'ack' ? 'ok' : String(m.error), seq: m.seq })),
        );
      }
    }
    const all = await Promise.all(answers);
    const refused: Record<string, number> = {};
    for (const a of all) if (!a.ok) refused[a.code] = (refused[a.code] ?? 0) + 1;
    return { accepted: all.filter((a) => a.ok).map((a) => a.seq!), refused };
  } finally {
    for (const s of sockets) s.close();
  }
}

async function headSeq(base: string): Promise<number> {
  return Number((await fetch(`${base}/api/board`)).headers.get('x-canvas-seq'));
}

t.test('one container: HTTP and WebSocket placements of one user at once → exactly one accepted [embedded]', async (t) => {
  const s = await startInProcess({ COOLDOWN_MS: '60000', WS_MESSAGES_PER_SECOND: '1000' });
  t.teardown(() => s.stop());
  const user = await session(s.base);
  const r = await burst([s], user.token);
  t.equal(r.accepted.length, 1, `1 of ${2 * PER_PATH} accepted`);
  t.same(r.refused, { cooldown: 2 * PER_PATH - 1 }, 'every other one refused for the cooldown');
  t.equal(await headSeq(s.base), r.accepted[0], 'the board holds exactly that one placement');
});

t.test('two containers on one Redis: HTTP and WebSocket on both at once → exactly one accepted', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const env = { REDIS_URL: redis.url, COOLDOWN_MS: '60000', WS_MESSAGES_PER_SECOND: '1000' };
  const a = await startInProcess(env);
  t.teardown(() => a.stop());
  const b = await startChild(env);
  t.teardown(() => b.stop());
  const user = await session(a.base);
  const r = await burst([a, b], user.token);
  t.equal(r.accepted.length, 1, `1 of ${4 * PER_PATH} accepted across both containers and both paths`);
  t.same(r.refused, { cooldown: 4 * PER_PATH - 1 }, 'every other one refused for the cooldown');
  t.equal(await headSeq(b.base), r.accepted[0], 'one seq was used');
  // A second user is unaffected by the first one's cooldown.
  const other = await session(b.base);
  t.equal((await put(a.base, other.token, { x: 5, y: 5, color: 5 })).status, 200, 'another user still places');
});
