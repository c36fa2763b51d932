// A local push service for tests: it accepts Web Push requests (RFC 8030) as FCM or Mozilla's autopush would,
// checks the VAPID JWT (RFC 8292: ES256 over the claims, signed by the key in `k`, audience = this origin, not
// expired) and decrypts the aes128gcm payload (RFC 8291) with the subscription's private key, like a browser.
// Subscriptions are made here too: a P-256 key pair and an auth secret per subscription, as a browser would.
import { createECDH, createPublicKey, randomBytes, verify, type ECDH } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// web-push's own dependency: the reference implementation of "Encrypted Content-Encoding for HTTP".
const ece = require('http_ece') as { decrypt(buf: Buffer, params: { version: string; privateKey: ECDH; authSecret: string }): Buffer };

export interface PushSubscriptionJson {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface Received {
  path: string;
  /** The VAPID claims, verified. */
  claims: { aud: string; exp: number; sub: string };
  /** The VAPID public key that signed (base64url). */
  vapidKey: string;
  ttl: string | undefined;
  urgency: string | undefined;
  /** The decrypted payload. */
  payload: string;
}

export interface FakePush {
  origin: string;
  /** Accepted, verified, decrypted pushes, oldest first. */
  received: Received[];
  /** Refused requests and why (a bad signature, an undecryptable body, an unknown endpoint). */
  refused: { path: string; reason: string }[];
  subscribe(name: string): PushSubscriptionJson;
  /** Answers 410 Gone to this endpoint from now on (the user withdrew it). */
  expire(name: string): void;
  close(): Promise<void>;
}

function verifyVapid(auth: string | undefined, origin: string): { claims: Received['claims']; key: string } {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(auth ?? '');
  if (!m) throw new Error(`no VAPID authorization: ${auth}`);
  const [, jwt, k] = m;
  const [h, c, s] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; typ: string };
  if (header.alg !== 'ES256') throw new Error(`JWT alg ${header.alg}`);
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  if (!verify('sha256', Buffer.from(`${h}.${c}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))) throw new Error('VAPID signature does not verify');
  const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as Received['claims'];
  if (claims.aud !== origin) throw new Error(`JWT aud ${claims.aud}, expected ${origin}`);
  if (!(claims.exp * 1000 > Date.now())) throw new Error('JWT expired');
  if (!/^(mailto:|https:)/.test(claims.sub ?? '')) throw new Error(`JWT sub ${claims.sub}`);
  return { claims, key: k };
}

export async function startFakePush(): Promise<FakePush> {
  const subs = new Map<string, { ecdh: ECDH; auth: string }>();
  const expired = new Set<string>();
  const received: Received[] = [];
  const refused: FakePush['refused'] = [];
  let origin = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const path = req.url ?? '';
      const name = path.replace(/^\/push\//, '');
      try {
        if (req.method !== 'POST') throw new Error(`method ${req.method}`);
        const sub = subs.get(name);
        if (!sub) throw new Error('unknown endpoint');
        if (expired.has(name)) {
          res.writeHead(410).end();
          return;
        }
        const { claims, key } = verifyVapid(req.headers.authorization, origin);
        if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`content-encoding ${req.headers['content-encoding']}`);
        const payload = ece.decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth }).toString('utf8');
        received.push({ path, claims, vapidKey: key, ttl: req.headers.ttl as string | undefined, urgency: req.headers.urgency as string | undefined, payload });
        res.writeHead(201, { location: `${path}/m${received.length}` }).end();
      } catch (err) {
        refused.push({ path, reason: (err as Error).message });
        res.writeHead(400).end((err as Error).message);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    received,
    refused,
    subscribe(name) {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16).toString('base64url');
      subs.set(name, { ecdh, auth });
      return { endpoint: `${origin}/push/${name}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth } };
    },
    expire(name) {
      expired.add(name);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
