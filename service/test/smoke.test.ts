import t from 'tap';
import { startRedis } from './support/redis-server.js';
import { startChild, startInProcess, session, put } from './support/service.js';
t.test('redis + child + inprocess', async (t) => {
  const r = await startRedis();
  t.teardown(() => r.stop());
  const a = await startInProcess({ REDIS_URL: r.url });
  t.teardown(() => a.stop());
  const b = await startChild({ REDIS_URL: r.url });
  t.teardown(() => b.stop());
  const s = await session(b.base);
  const res = await put(a.base, s.token, { x: 1, y: 2, color: 3 });
  t.equal(res.status, 200, JSON.stringify(res.body));
  t.equal(res.body.seq, 1);
});
