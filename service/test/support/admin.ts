// Calls to /api/admin/* as a moderator (or a stranger), and what tests need to pose as a network.
import { networkPrefixes, prefixHash, prefixHashKey } from '../../src/network-prefix.js';
import { TEST_SECRET } from './service.js';

export const ADMIN = 'admin-token-admin-token';

export interface Who {
  token?: string;
  name?: string;
  /** Sent as X-Forwarded-For (the service must run with TRUSTED_PROXY_HOPS=1). */
  from?: string;
}

export async function admin(base: string, method: 'GET' | 'POST', path: string, body?: unknown, who: Who = { token: ADMIN }) {
  const headers: Record<string, string> = {};
  if (who.token) headers['x-admin-token'] = who.token;
  if (who.name) headers['x-moderator'] = who.name;
  if (who.from) headers['x-forwarded-for'] = who.from;
  const r = await fetch(`${base}/api/admin/${path}`, { method, headers, body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined });
  return { status: r.status, body: (await r.json()) as any };
}

/** The network prefix hash the service derives from an address with TEST_SECRET: fine by default, or coarse. */
export function netOf(address: string, which: 'fine' | 'coarse' = 'fine'): string {
  return prefixHash(networkPrefixes(address)[which], prefixHashKey(Buffer.from(TEST_SECRET)));
}

/** Polls a rollback job until it is no longer running; the last view. */
export async function waitForJob(base: string, jobId: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await admin(base, 'GET', `rollback/${jobId}`);
    if (r.status !== 200) throw new Error(`job ${jobId}: ${r.status} ${JSON.stringify(r.body)}`);
    if (r.body.state !== 'running') return r.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still running: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** A PUT /api/pixel posing as a client at `from`. */
export async function putFrom(base: string, token: string, from: string, body: unknown) {
  const r = await fetch(`${base}/api/pixel`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-forwarded-for': from },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as any };
}
