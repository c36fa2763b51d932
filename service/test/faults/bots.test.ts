// Launch day with a bot. Two containers on Redis behind HAProxy (TRUSTED_PROXY_HOPS=1; HAProxy keeps the
// X-Forwarded-For a client sends, standing in for the CDN that writes the viewer's address), every setting at its
// default. One attacker network scripts sessions (solving the proof-of-work on a core of its own) and placements as
// fast as it can for 60 s: first as one IPv4 address flooding (which spends its request budget within seconds and
// locks itself out), then as one IPv6 /64 with a new address on every request, pacing itself just under the
// request budget so that the session and placement budgets are what stop it.
// Meanwhile 200 honest users from distinct networks arrive, buy a session, open a socket and place a pixel.
// Pass: the attacker gets no more than the budgets (printed), the honest users see no refusal, and without
// solving the proof-of-work the attacker gets no session at all.
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { startCluster } from '../../../bench/cluster.js';
import { loadConfig } from '../../src/config.js';
import { PowSolver } from '../support/pow-solver.js';
import { Prng } from '../support/prng.js';

const PHASE_MS = 60_000;
const HONEST = 200;
/** Honest users arrive spread over this much of the phase. */
const ARRIVALS_MS = 40_000;
/** Requests the attacker keeps in flight for placements. */
const ATTACK_CONCURRENCY = 2;

const cluster = await startCluster({ containers: 2, dynamo: false, defaultLimits: true, keepForwardedFor: true });
t.teardown(() => cluster.stop());
const base = cluster.url;
const defaults = loadConfig({ SESSION_SECRET: cluster.secret });
const budgets = {
  sessions: defaults.sessionsPerMinute,
  placements: defaults.placementsPerMinute,
  requests: defaults.requestsPerMinute,
  sockets: defaults.socketsPerMinute,
  coarseFactor: defaults.rateLimitCoarseFactor,
  powDifficulty: defaults.powDifficulty,
  cooldownMs: defaults.cooldownMs,
};
t.comment(`default budgets per network and minute: ${JSON.stringify(budgets)}`);
const rng = new Prng(17);
const pixel = () => ({ x: rng.int(defaults.width), y: rng.int(defaults.height), color: rng.int(16) });

type Call = typeof request;

async function request(method: string, path: string, from: string, opts: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { 'x-forwarded-for': from };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await r.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text.slice(0, 200) };
  }
  return { status: r.status, body };
}

/** A new session the way a client buys one: challenge, proof-of-work, POST. */
async function buySessionWith(call: Call, from: string, solver: PowSolver): Promise<{ status: number; body: any; step: string }> {
  const c = await call('GET', '/api/session/challenge', from);
  if (c.status !== 200) return { ...c, step: 'challenge' };
  const solution = c.body.challenge === null ? undefined : await solver.solve(c.body.challenge, c.body.difficulty);
  const s = await call('POST', '/api/session', from, { body: solution === undefined ? {} : { challenge: c.body.challenge, solution } });
  return { ...s, step: 'session' };
}

interface AttackResult {
  solved: number;
  sessions: number;
  placements: number;
  attempts: number;
  refusals: Record<string, number>;
}

/**
 * The script: one loop buying sessions, ATTACK_CONCURRENCY loops placing with every session it holds, for PHASE_MS,
 * at most `perSecond` requests a second in all.
 */
async function attack(address: () => string, perSecond = Infinity): Promise<AttackResult> {
  const solver = new PowSolver();
  let nextSlot = Date.now();
  const call = async (method: string, path: string, from: string, opts?: { token?: string; body?: unknown }) => {
    const wait = nextSlot - Date.now();
    nextSlot = Math.max(nextSlot, Date.now()) + 1000 / perSecond;
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    return request(method, path, from, opts);
  };
  const buySession = (from: string) => buySessionWith(call, from, solver);
  const tokens: string[] = [];
  const r: AttackResult = { solved: 0, sessions: 0, placements: 0, attempts: 0, refusals: {} };
  const refused = (what: string, status: number, body: any) => {
    const k = `${what} ${status} ${body.error}${body.budget ? `(${body.budget})` : ''}`;
    r.refusals[k] = (r.refusals[k] ?? 0) + 1;
  };
  const end = Date.now() + PHASE_MS;
  const buying = (async () => {
    while (Date.now() < end) {
      const s = await buySession(address());
      if (s.step === 'session') r.solved++;
      if (s.status === 200) {
        r.sessions++;
        tokens.push(s.body.token);
      } else refused(s.step, s.status, s.body);
    }
  })();
  // The flood places with any session it holds, over and over; the paced script knows the cooldown and places
  // once with each new session.
  let fresh = 0;
  const placing = Array.from({ length: ATTACK_CONCURRENCY }, async (_, lane) => {
    let next = lane;
    while (Date.now() < end) {
      const token = perSecond === Infinity ? tokens[next++ % tokens.length] : tokens[fresh++];
      if (token === undefined) {
        if (perSecond !== Infinity) fresh--;
        await new Promise((res) => setTimeout(res, 20));
        continue;
      }
      r.attempts++;
      const p = await call('PUT', '/api/pixel', address(), { token, body: pixel() });
      if (p.status === 200) r.placements++;
      else refused('place', p.status, p.body);
    }
  });
  await Promise.all([buying, ...placing]);
  await solver.close();
  return r;
}

interface HonestResult {
  done: number;
  refusals: string[];
}

/** One honest user each: arrives at a random moment, buys a session, opens a socket, places one pixel (cooldown 5 min). */
async function honest(addresses: string[]): Promise<HonestResult> {
  const solver = new PowSolver();
  const r: HonestResult = { done: 0, refusals: [] };
  const sockets: WebSocket[] = [];
  await Promise.all(
    addresses.map(async (from) => {
      await new Promise((res) => setTimeout(res, rng.int(ARRIVALS_MS)));
      const config = await request('GET', '/api/config', from);
      if (config.status !== 200) return r.refusals.push(`${from} config ${config.status} ${config.body.error}`);
      const s = await buySessionWith(request, from, solver);
      if (s.status !== 200) return r.refusals.push(`${from} ${s.step} ${s.status} ${s.body.error}`);
      const opened = await openSocket(from, s.body.token);
      if (typeof opened === 'string') return r.refusals.push(`${from} socket ${opened}`);
      sockets.push(opened);
      const p = await request('PUT', '/api/pixel', from, { token: s.body.token, body: pixel() });
      if (p.status !== 200) return r.refusals.push(`${from} place ${p.status} ${p.body.error}`);
      r.done++;
    }),
  );
  for (const ws of sockets) ws.terminate();
  await solver.close();
  return r;
}

/** Opens /ws as `from`; resolves the open socket, or why it was refused (HTTP status or close code). */
function openSocket(from: string, token: string): Promise<WebSocket | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: { 'x-forwarded-for': from, authorization: `Bearer ${token}` } });
    let settled = false;
    const settle = (v: WebSocket | string) => {
      if (!settled) resolve(v);
      settled = true;
    };
    // A refusal by close code comes right after the upgrade: the socket counts as open once it has lasted a moment.
    ws.once('open', () => setTimeout(() => settle(ws), 300));
    ws.once('close', (code) => settle(`closed ${code}`));
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      settle(`HTTP ${res.statusCode}`);
    });
    ws.once('error', (err) => settle(err.message));
  });
}

function checkPhase(t: Test, name: string, a: AttackResult, h: HonestResult, script: 'flood' | 'paced') {
  t.comment(`${name}: attacker solved ${a.solved} proofs of work → ${a.sessions} sessions (budget ${budgets.sessions}/min); ${a.attempts} placement attempts → ${a.placements} placed (budget ${budgets.placements}/min); refusals ${JSON.stringify(a.refusals)}`);
  t.comment(`${name}: honest users ${h.done}/${HONEST} placed; refusals ${h.refusals.length}`);
  const limited = (what: string) => Object.entries(a.refusals).reduce((n, [k, v]) => n + (k.startsWith(`${what} 429 rate_limited`) ? v : 0), 0);
  if (script === 'flood') {
    // How far the flood gets depends on the box; what it asked for beyond its budgets must be refused either way.
    const refusedByBudget = limited('place') + limited('session') + limited('challenge');
    t.ok(a.attempts > budgets.placements && refusedByBudget > 0, `the flood asked for more than its budgets and was refused ${refusedByBudget} times with 429 rate_limited`);
  } else {
    t.ok(a.solved > budgets.sessions, `the attacker solved more proofs of work (${a.solved}) than the session budget: that budget is what stopped it`);
    t.ok(limited('session') > 0, 'its extra sessions were refused 429 rate_limited');
  }
  t.ok(a.sessions <= budgets.sessions, `sessions: ${a.sessions} ≤ ${budgets.sessions}`);
  t.ok(a.placements <= budgets.placements, `placements: ${a.placements} ≤ ${budgets.placements}`);
  t.ok(a.placements > 0, 'the attacker is still served within its budget (a network is limited, not banned)');
  t.same(h.refusals, [], 'honest users: no refusal');
  t.equal(h.done, HONEST, `all ${HONEST} honest users placed`);
}

t.test('one IPv4 address, flooding', async (t) => {
  const honestAddresses = Array.from({ length: HONEST }, (_, i) => `198.18.${i}.${10 + (i % 200)}`);
  const [a, h] = await Promise.all([attack(() => '203.0.113.66'), honest(honestAddresses)]);
  checkPhase(t, 'IPv4 flood', a, h, 'flood');
});

t.test('one IPv6 /64, a new address on every request, paced under the request budget', async (t) => {
  const hex = () => rng.int(0x10000).toString(16);
  // Half the honest users on IPv6 (each its own /48), half on IPv4 (each its own /24).
  const honestAddresses = Array.from({ length: HONEST }, (_, i) => (i % 2 ? `2001:db8:${(0x1000 + i).toString(16)}::${i}` : `198.19.${i}.7`));
  // 90 % of the request budget: the most a script gets through without being locked out by it.
  const paced = (budgets.requests / 60) * 0.9;
  const [a, h] = await Promise.all([attack(() => `2001:db8:bad:1:${hex()}:${hex()}:${hex()}:${hex()}`, paced), honest(honestAddresses)]);
  checkPhase(t, 'IPv6 /64 paced', a, h, 'paced');
});

t.test('without solving the proof-of-work the attacker gets no session', async (t) => {
  const from = '203.0.113.99';
  const statuses: Record<string, number> = {};
  let sessions = 0;
  for (let i = 0; i < 50; i++) {
    const c = await request('GET', '/api/session/challenge', from);
    const tries = [
      {},
      { challenge: c.body.challenge },
      { challenge: c.body.challenge, solution: String(i) },
      { challenge: `${c.body.challenge}x`, solution: 'a' },
    ];
    for (const body of tries) {
      const s = await request('POST', '/api/session', from, { body });
      if (s.status === 200) sessions++;
      statuses[`${s.status} ${s.body.error}`] = (statuses[`${s.status} ${s.body.error}`] ?? 0) + 1;
    }
  }
  t.comment(`unsolved: ${JSON.stringify(statuses)}`);
  t.equal(sessions, 0, 'no session without a solved challenge');
  t.ok(statuses['401 pow_required'] >= 50, 'a POST without a solution: 401 pow_required');
  t.ok(Object.keys(statuses).every((k) => /^40[13] pow_/.test(k)), 'every refusal is a pow_* error');
});
