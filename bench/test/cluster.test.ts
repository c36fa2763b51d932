// The box: startCluster comes up, a PUT through HAProxy lands, a WebSocket through HAProxy gets its
// frame, a killed container is taken out and brought back, and stop() leaves no process behind.
import t from 'tap';
import WebSocket from 'ws';
import { Tokens } from '../../service/src/auth/token.js';
import { decodeFrame } from '../../service/src/wire/frames.js';
import { livePids, startCluster, type Cluster } from '../cluster.js';
import { haproxyConfig, maxConnFor } from '../cluster/haproxy.js';

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function put(c: Cluster, token: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${c.url}/api/pixel`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('haproxy config is the ALB stand-in', async (t) => {
  const cfg = haproxyConfig({ port: 8000, backends: [9001, 9002], socket: '/tmp/x.sock', maxconn: maxConnFor(20_000) });
  for (const line of ['balance roundrobin', 'timeout tunnel 1h', 'option forwardfor', 'http-request set-header X-Forwarded-Proto http', 'uri /readyz', 'default-server inter 1s fall 2 rise 2', 'server c2 127.0.0.1:9002 check']) {
    t.match(cfg, line);
  }
  t.equal(maxConnFor(20_000), 9900);
});

t.test('startCluster: PUT and WebSocket through haproxy, fault API, clean stop', async (t) => {
  const c = await startCluster({ containers: 2, env: { SHUTDOWN_DELAY_MS: '0', COOLDOWN_MS: '60000' } });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : c.stop()));
  t.ok(c.dynamo, 'DynamoDB Local started');
  t.equal(c.containers.length, 2);
  t.same((await c.haproxy.servers()).map((s) => s.status), ['UP', 'UP']);

  const tokens = new Tokens([Buffer.from(c.secret)], 3600);
  const ws = new WebSocket(`${c.url.replace(/^http/, 'ws')}/ws`);
  const frame = new Promise<ReturnType<typeof decodeFrame>>((resolve, reject) => {
    ws.on('message', (data, isBinary) => isBinary && resolve(decodeFrame(new Uint8Array(data as Buffer))));
    ws.on('error', reject);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));

  const first = await put(c, tokens.mint('alice').token, { x: 1, y: 2, color: 3 });
  t.equal(first.status, 200, JSON.stringify(first.body));
  const f = await frame;
  t.ok(f, 'a binary update frame arrived through haproxy');
  t.equal(f!.firstSeq, first.body.seq);
  t.same([f!.count, ...f!.entries], [1, (2 * 1000 + 1) * 16 + 3], 'one seq, one entry: pixelIndex*16 + colour');
  ws.close();

  // A crashed task: HAProxy takes it out within fall × inter, the other container serves, and it comes back.
  const victim = c.containers[0];
  const pid = victim.pid;
  await victim.kill('SIGKILL');
  t.notOk(alive(pid), 'container 1 is gone');
  await until('haproxy to mark c1 down', async () => (await c.haproxy.servers())[0].status.startsWith('DOWN'));
  t.equal((await put(c, tokens.mint('bob').token, { x: 3, y: 3, color: 1 })).status, 200, 'served by the other container');
  await victim.start();
  t.not(victim.pid, pid, 'a new process');
  await until('haproxy to mark c1 up', async () => (await c.haproxy.servers())[0].status === 'UP');

  const pids = [c.redis.process.pid, c.dynamo?.process.pid, ...c.containers.map((x) => x.pid), c.haproxy.process.pid];
  t.equal(pids.filter(alive).length, 5, 'redis, dynamodb, 2 containers, haproxy running');
  await c.stop();
  stopped = true;
  t.same(pids.filter(alive), [], 'no process left behind');
  t.same(livePids(), []);
});
