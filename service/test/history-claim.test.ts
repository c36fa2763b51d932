// A service process SIGKILLed while holding unacknowledged history entries: another process claims and writes them.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { Redis } from 'ioredis';
import t from 'tap';
import { canvasKeys } from '../src/store/redis.js';
import { freePort, startRedis } from './support/redis-server.js';
import { metric, mintUsers, placeMany, scanHistory, startDynamo, waitFor } from './support/dynamo.js';
import { startChild, TEST_SECRET } from './support/service.js';

const TABLE = 'tessera-history-claim';

/**
 * DynamoDB Local behind a proxy that never answers BatchWriteItem: the service reads entries, sends them,
 * and sits on them unacknowledged — the state a container is in when it is killed mid-batch.
 */
async function hangingWrites(target: number): Promise<{ endpoint: string; held: () => number; close: () => void }> {
  let held = 0;
  const hanging: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (String(req.headers['x-amz-target']).endsWith('.BatchWriteItem')) {
      held++;
      hanging.push(res);
      req.resume();
      return;
    }
    const up = request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    held: () => held,
    close: () => {
      for (const res of hanging) res.destroy();
      server.close();
      server.closeAllConnections();
    },
  };
}

t.test('entries a SIGKILLed container held are claimed and written by another (XAUTOCLAIM)', async (t) => {
  const redisServer = await startRedis();
  t.teardown(() => redisServer.stop());
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.stop());
  const proxy = await hangingWrites(dynamo.port);
  t.teardown(() => proxy.close());
  const redis = new Redis(redisServer.url);
  t.teardown(() => redis.disconnect());
  const stream = canvasKeys('main').stream;
  const env = {
    REDIS_URL: redisServer.url,
    DYNAMODB_TABLE: TABLE,
    COOLDOWN_MS: '0',
    RATE_LIMIT_REQUESTS_PER_MIN: '0',
    HISTORY_CLAIM_IDLE_MS: '2000',
    STREAM_TRIM_INTERVAL_MS: '500',
  };
  const users = mintUsers(TEST_SECRET, 40);

  const a = await startChild({ ...env, DYNAMODB_ENDPOINT: proxy.endpoint });
  t.teardown(() => a.stop('SIGKILL'));
  const first = await placeMany({ bases: [a.base], users, count: 150, concurrency: 8, pixel: (i) => ({ x: i % 100, y: 10 + (i % 7), color: i % 16 }) });
  t.equal(first.accepted.length, 150);
  const pendingOf = async () => {
    const [count, , , consumers] = (await redis.xpending(stream, 'history')) as [number, string, string, [string, string][] | null];
    return { count, consumers: new Map((consumers ?? []).map(([c, n]) => [c, Number(n)])) };
  };
  const held = await waitFor('A to hold all 150 entries unacknowledged', async () => {
    const p = await pendingOf();
    return p.count === 150 && p.consumers.size === 1 ? p : false;
  });
  const [consumerA] = held.consumers.keys();
  t.ok(await waitFor('A to be inside BatchWriteItem calls', async () => proxy.held() > 0), 'A is inside BatchWriteItem calls');

  const b = await startChild({ ...env, DYNAMODB_ENDPOINT: dynamo.endpoint });
  t.teardown(() => b.stop());
  // While A lives its heartbeat keeps its entries: B must not take over live work.
  await new Promise((r) => setTimeout(r, 3500));
  t.equal((await pendingOf()).consumers.get(consumerA), 150, 'a live container keeps its entries past the claim timeout');

  a.proc.kill('SIGKILL');
  await new Promise((r) => a.proc.once('exit', r));
  const second = await placeMany({ bases: [b.base], users, count: 50, concurrency: 4, pixel: (i) => ({ x: i, y: 30, color: 2 }) });
  t.equal(second.accepted.length, 50);
  const all = [...first.accepted, ...second.accepted];

  const items = await waitFor('all 200 placements in DynamoDB', async () => {
    const rows = await scanHistory(dynamo.client, TABLE);
    return rows.length >= all.length ? rows : false;
  });
  t.equal(items.length, all.length, 'none missing, none twice');
  t.same(new Set(items.map((i) => i.seq)), new Set(all.map((p) => p.seq)), 'exactly the accepted seqs');
  const bySeq = new Map(items.map((i) => [i.seq, i]));
  t.same(all.filter((p) => bySeq.get(p.seq)?.userId !== p.userId || bySeq.get(p.seq)?.x !== p.x), [], 'each item is its placement');
  await waitFor('nothing pending', async () => (await pendingOf()).count === 0);
  t.ok((await metric(b.base, 'tessera_history_claimed_total'))! >= 150, 'B claimed what A held');
});
