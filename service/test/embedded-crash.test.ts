// The embedded store killed mid-load, over and over: after every restart each acknowledged placement is in
// placements.log and the pixel history with its seq, colour and user, the board is the log replayed, and no
// seq is ever acknowledged twice. One round also leaves a torn record behind, as a crash mid-write does.
// Replay a failure with CRASH_SEED=<the seed printed>.
import { appendFileSync, statSync } from 'node:fs';
import t, { type Test } from 'tap';
import type { Placement } from '../src/store/store.js';
import { mintUsers } from './support/dynamo.js';
import { board, colourAt, logged, logPath, pixelHistory, record, WIDTH } from './support/embedded-log.js';
import { Prng } from './support/prng.js';
import { put, startChild, testEnv, TEST_SECRET, type ChildService } from './support/service.js';

const ROUNDS = 16;
const TORN_ROUND = 7;
const CLIENTS = 20;
const HEIGHT = 80;
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
t.comment(`CRASH_SEED=${seed}`);
const rng = new Prng(seed);

type Ack = Omit<Placement, 'placedAt'>;

/** Checks what a restarted service holds against every placement acknowledged so far. */
async function verify(t: Test, svc: ChildService, dir: string, acks: Map<number, Ack>, round: number): Promise<number> {
  const log = logged(dir);
  const head = log.length;
  t.ok(log.every((p, i) => p.seq === i + 1), `round ${round}: the log holds seqs 1..${head}, each once, in order`);
  const missing = [...acks.values()].filter((a) => {
    const p = log[a.seq - 1];
    return !p || p.x !== a.x || p.y !== a.y || p.color !== a.color || p.userId !== a.userId;
  });
  t.same(missing, [], `round ${round}: all ${acks.size} acknowledged placements are in the log as acknowledged`);

  const b = await board(svc.base);
  t.equal(b.seq, head, `round ${round}: the head seq is the log's last`);
  const expected = Buffer.alloc(b.bytes.length);
  const lastAt = new Map<number, number>(); // pixel → highest seq in the log
  for (const p of log) {
    const i = p.y * WIDTH + p.x;
    expected[i >> 1] = i % 2 === 0 ? (expected[i >> 1] & 0x0f) | (p.color << 4) : (expected[i >> 1] & 0xf0) | p.color;
    lastAt.set(i, p.seq);
  }
  t.ok(b.bytes.equals(expected), `round ${round}: the board is the log replayed`);
  const lastAck = new Map<number, Ack>();
  for (const a of acks.values()) {
    const i = a.y * WIDTH + a.x;
    if ((lastAck.get(i)?.seq ?? 0) < a.seq) lastAck.set(i, a);
  }
  const wrong = [...lastAck.entries()].filter(([i, a]) => lastAt.get(i) === a.seq && colourAt(b.bytes, a.x, a.y) !== a.color);
  t.same(wrong, [], `round ${round}: each pixel shows its last acknowledged placement unless a later seq overwrote it`);
  return head;
}

/** CLIENTS users placing as fast as their answers come back until the service dies. */
function load(svc: ChildService, users: { userId: string; token: string }[], acks: Map<number, Ack>, duplicates: number[]) {
  let dead = false;
  const lane = async (user: { userId: string; token: string }) => {
    while (!dead) {
      const pixel = { x: rng.int(WIDTH), y: rng.int(HEIGHT), color: rng.int(16) };
      let r;
      try {
        r = await put(svc.base, user.token, pixel);
      } catch {
        return; // the connection died with the process: not acknowledged
      }
      if (r.status !== 200) continue; // 429 (cooldown); anything else is caught by the count below
      if (acks.has(r.body.seq)) duplicates.push(r.body.seq);
      acks.set(r.body.seq, { seq: r.body.seq, ...pixel, userId: user.userId });
    }
  };
  const lanes = Promise.all(users.map(lane));
  return {
    stop: async () => {
      dead = true;
      await lanes;
    },
  };
}

t.test(`${ROUNDS} SIGKILLs under concurrent placements lose no acknowledged placement and reuse no seq`, async (t) => {
  const started = Date.now();
  const dir = testEnv().DATA_DIR!;
  const users = mintUsers(TEST_SECRET, CLIENTS, 'crash-');
  const acks = new Map<number, Ack>();
  const duplicates: number[] = [];
  let head = 0;
  let tornBytes = 0;
  for (let round = 1; round <= ROUNDS + 1; round++) {
    // Snapshots from constant to rare, so kills land before, during and after snapshot writes.
    const snapshotMs = rng.pick([100, 300, 1000, 5000]);
    const sizeBefore = statSync(logPath(dir), { throwIfNoEntry: false })?.size ?? 0;
    const svc = await startChild({ DATA_DIR: dir, COOLDOWN_MS: '5', RATE_LIMIT_REQUESTS_PER_MIN: '0', SNAPSHOT_INTERVAL_MS: String(snapshotMs) });
    if (round === TORN_ROUND + 1) t.equal(statSync(logPath(dir)).size, sizeBefore - tornBytes, 'the injected torn record was trimmed at start');
    head = await verify(t, svc, dir, acks, round);
    if (round > ROUNDS) {
      await finalHistoryCheck(t, svc, acks);
      await svc.stop();
      break;
    }
    const running = load(svc, users, acks, duplicates);
    await new Promise((r) => setTimeout(r, 150 + rng.int(1200)));
    await svc.stop('SIGKILL');
    await running.stop();
    if (round === TORN_ROUND) {
      // A crash in the middle of writing the next record.
      const next = record({ seq: head + 1_000_000, x: 1, y: 1, color: 1, userId: 'torn', placedAt: Date.now() });
      tornBytes = 1 + rng.int(next.length - 1);
      appendFileSync(logPath(dir), next.subarray(0, tornBytes));
    }
  }
  t.same(duplicates, [], 'no seq was acknowledged twice across all rounds');
  t.ok(acks.size > ROUNDS * CLIENTS, `${acks.size} placements acknowledged and checked`);
  t.comment(`MEASURED crash-loop ${JSON.stringify({ seed, rounds: ROUNDS, acks: acks.size, head, ms: Date.now() - started })}`);
});

/** Every acknowledged placement through GET /api/pixel too: the history index reads the same log. */
async function finalHistoryCheck(t: Test, svc: ChildService, acks: Map<number, Ack>): Promise<void> {
  const byPixel = new Map<string, Ack[]>();
  for (const a of acks.values()) {
    const key = `${a.x},${a.y}`;
    byPixel.set(key, [...(byPixel.get(key) ?? []), a]);
  }
  const absent: Ack[] = [];
  for (const list of byPixel.values()) {
    const h = await pixelHistory(svc.base, list[0].x, list[0].y);
    const seen = new Map(h?.history.map((e) => [e.seq, e]) ?? []);
    // The history keeps a pixel's newest 50: older acknowledged ones are checked in the log only.
    const oldestShown = h?.history.at(-1)?.seq ?? 0;
    for (const a of list) {
      const e = seen.get(a.seq);
      if (a.seq >= oldestShown && (!e || e.color !== a.color || e.userId !== a.userId)) absent.push(a);
    }
  }
  t.same(absent, [], `GET /api/pixel shows every acknowledged placement of ${byPixel.size} pixels with its colour and user`);
}
