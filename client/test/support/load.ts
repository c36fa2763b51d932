// Other clients: placements over HTTP from many minted users, fast enough for bursts of thousands.
import http from 'node:http';
import { Tokens } from '../../../service/src/auth/token.js';

/** Every service a client test starts is given this SESSION_SECRET, so the tests can mint sessions. */
export const TEST_SECRET = 'client-test-secret-client-test-secret-0123';

/** Settings every client test's service shares: our secret, and no per-address budget (all load is from 127.0.0.1). */
export function serviceEnv(env: Record<string, string>): Record<string, string> {
  return { SESSION_SECRET: TEST_SECRET, RATE_LIMIT_REQUESTS_PER_MIN: '0', ...env };
}

const tokens = new Tokens([Buffer.from(TEST_SECRET)], 3600);

/** A session token for a made-up user, signed like the service's (docs/api.md: a load generator may mint them). */
export function mintToken(userId: string): string {
  return tokens.mint(userId).token;
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** PUT /api/pixel over a keep-alive node:http agent: several times faster than fetch for bulk loads. */
export function putPixel(base: string, token: string, body: { x: number; y: number; color: number }): Promise<{ status: number; body: string }> {
  const u = new URL(`${base}/api/pixel`);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('PUT /api/pixel timed out')));
    req.on('error', reject);
    req.end(data);
  });
}

/** Places every pixel, each as a different minted user (so any cooldown allows it), `concurrency` at a time. */
export async function placeMany(base: string, pixels: { x: number; y: number; color: number }[], opts: { concurrency?: number; userPrefix?: string } = {}): Promise<void> {
  const prefix = opts.userPrefix ?? `bulk-${process.pid}-${Date.now()}`;
  await pool(pixels, opts.concurrency ?? 32, async (px, i) => {
    const r = await putPixel(base, mintToken(`${prefix}-${i}`), px);
    if (r.status !== 200) throw new Error(`PUT ${JSON.stringify(px)}: ${r.status} ${r.body}`);
  });
}
