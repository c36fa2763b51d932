// The invariant checker: after a fault and the load around it, compares what clients were told with what
// the system holds.
//   - every 200 is on the board (or overwritten by a later seq), and in the history exactly once;
//   - the board equals the fold of every placement up to its X-Canvas-Seq;
//   - every listener saw every seq up to the head, once, in order, with the right content;
//   - the load balancer answered no 5xx other than 503 (and 502 only where the test allows it).
// Every placement has a user of its own, so a failed request that Redis applied anyway ("ambiguous") is found
// by its user id in the stream or the history.
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Redis } from 'ioredis';
import type { Test } from 'tap';
import { boardBytes, type Placement } from '../../../src/store/store.js';
import type { Attempt } from './load.js';
import type { ListenerFleet } from './listeners.js';

export interface Board {
  bytes: Buffer;
  seq: number;
}

export async function readBoard(url: string): Promise<Board> {
  const r = await fetch(`${url}/api/board`, { signal: AbortSignal.timeout(10_000) });
  if (r.status !== 200) throw new Error(`GET /api/board: ${r.status}`);
  return { bytes: Buffer.from(await r.arrayBuffer()), seq: Number(r.headers.get('x-canvas-seq')) };
}

export function colorAt(bytes: Buffer, i: number): number {
  const b = bytes[i >> 1] ?? 0;
  return i % 2 === 0 ? b >> 4 : b & 0x0f;
}

/** The board a fold of these placements (in seq order, up to `upTo`) gives. */
export function foldBoard(placements: Iterable<Placement>, width: number, height: number, upTo: number): Buffer {
  const sorted = [...placements].filter((p) => p.seq <= upTo).sort((a, b) => a.seq - b.seq);
  const out = Buffer.alloc(boardBytes(width, height));
  for (const p of sorted) {
    const i = p.y * width + p.x;
    const byte = i >> 1;
    out[byte] = i % 2 === 0 ? (out[byte] & 0x0f) | (p.color << 4) : (out[byte] & 0xf0) | p.color;
  }
  return out;
}

/** Every entry of the placements stream, by seq. */
export async function readStream(redis: Redis, stream: string): Promise<Map<number, Placement>> {
  const out = new Map<number, Placement>();
  let start = '-';
  for (;;) {
    const page = (await redis.xrange(stream, start, '+', 'COUNT', 10_000)) as [string, string[]][];
    for (const [id, fields] of page) {
      const seq = Number(id.slice(0, id.indexOf('-')));
      const [x, y, color, userId, placedAt] = (fields[fields.indexOf('p') + 1] ?? '').split(',');
      out.set(seq, { seq, x: Number(x), y: Number(y), color: Number(color), userId, placedAt: Number(placedAt) });
    }
    if (page.length < 10_000) return out;
    start = `(${page[page.length - 1][0]}`;
  }
}

export interface History {
  bySeq: Map<number, Placement>;
  /** every item (two placements given the same seq are two items) */
  all: Placement[];
  items: number;
  /** seqs held by more than one item (two placements given the same seq) */
  duplicateSeqs: number[];
}

/** A full (parallel) scan of the history table. */
export async function readHistory(client: DynamoDBClient, table: string, segments = 4): Promise<History> {
  const bySeq = new Map<number, Placement>();
  const all: Placement[] = [];
  const dup = new Set<number>();
  let items = 0;
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let startKey: Record<string, never> | undefined;
      do {
        const page = await client.send(new ScanCommand({ TableName: table, Segment: segment, TotalSegments: segments, ExclusiveStartKey: startKey }));
        for (const it of page.Items ?? []) {
          items++;
          const p: Placement = { seq: Number(it.seq.N), x: Number(it.x.N), y: Number(it.y.N), color: Number(it.color.N), userId: it.userId.S!, placedAt: Number(it.placedAt.N) };
          all.push(p);
          if (bySeq.has(p.seq)) dup.add(p.seq);
          bySeq.set(p.seq, p);
        }
        startKey = page.LastEvaluatedKey as typeof startKey;
      } while (startKey);
    }),
  );
  return { bySeq, all, items, duplicateSeqs: [...dup] };
}

/** Waits until the history holds every seq 1…head (the writers caught up); resolves with it and the ms it took. */
export async function historyCaughtUp(client: DynamoDBClient, table: string, head: number, timeoutMs = 30_000, from = 1): Promise<{ history: History; ms: number }> {
  const started = Date.now();
  for (;;) {
    const history = await readHistory(client, table).catch(() => undefined);
    if (history) {
      let missing = 0;
      for (let s = from; s <= head; s++) if (!history.bySeq.has(s)) missing++;
      if (missing === 0) return { history, ms: Date.now() - started };
      if (Date.now() - started > timeoutMs) return { history, ms: Date.now() - started };
    } else if (Date.now() - started > timeoutMs) throw new Error('cannot scan the history table');
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface CheckOptions {
  url: string;
  width: number;
  height: number;
  /** every attempt of every load in the test */
  attempts: Attempt[];
  redis: Redis;
  stream: string;
  dynamo?: { client: DynamoDBClient; table: string };
  fleets?: ListenerFleet[];
  /** the seq the listeners started from (their entries are checked from there) */
  fleetSince?: number;
  /** resets the listeners may get (0 unless the fault loses data) */
  allowResets?: boolean;
  /** statuses other than 200/503 allowed for a failed attempt (e.g. 502 for requests in flight on a SIGKILLed container) */
  allowFailure?: (a: Attempt) => boolean;
  /** placements made outside the load (e.g. a bulk generator): they count as truth but have no attempt */
  extraUsers?: (userId: string) => boolean;
  /** the history must hold every seq from here (1 unless it was not on from the start) */
  historyFrom?: number;
  /**
   * Containers that ran the whole test (none restarted): their tessera_history_written_total must add up to the
   * items in the history, so a placement written twice under the same key (invisible to a scan) is caught.
   */
  historyWrittenBy?: string[];
  catchUpTimeoutMs?: number;
}

export interface CheckResult {
  head: number;
  acked: number;
  failed: number;
  /** failed requests whose placement Redis applied anyway */
  ambiguousApplied: Attempt[];
  /** requests HAProxy closed without an answer outside what the test allows (keep-alive race), not applied */
  keepAliveRaces: number;
  listenersCaughtUpMs: number;
  historyCaughtUpMs: number;
}

/** Runs every invariant as tap assertions and returns the figures worth printing. */
export async function checkInvariants(t: Test, o: CheckOptions): Promise<CheckResult> {
  const board = await readBoard(o.url);
  const head = board.seq;
  const acked = o.attempts.filter((a) => a.status === 200);
  const failed = o.attempts.filter((a) => a.status !== 200);

  // The load balancer: only 503 (or what the test allows) for a failure, and each request answered once.
  // One more kind is tolerated when its placement was not applied (checked below): a connection HAProxy closes
  // without an answer because the container closed the idle keep-alive connection HAProxy was reusing (uWS
  // closes idle HTTP connections after 10 s; HAProxy keeps them longer) — a load-balancer race, counted.
  const keepAliveRace = (a: Attempt) => a.status === 0 && a.error === 'socket hang up';
  const bad = failed.filter((a) => a.status !== 503 && !(o.allowFailure?.(a) ?? false) && !keepAliveRace(a));
  t.same(bad.map((a) => `${a.status} ${a.error ?? ''}`).slice(0, 10), [], `no answer other than 200 and 503 (${failed.length} failed)`);
  t.equal(o.attempts.filter((a) => a.responses > 1).length, 0, 'no request answered twice');

  // The acknowledged seqs: unique, within the head.
  const seqs = new Map<number, Attempt>();
  const twice: number[] = [];
  for (const a of acked) {
    if (seqs.has(a.seq!)) twice.push(a.seq!);
    seqs.set(a.seq!, a);
  }
  t.same(twice.slice(0, 10), [], 'no seq acknowledged twice');
  t.same(acked.filter((a) => !(a.seq! >= 1 && a.seq! <= head)).length, 0, `every acknowledged seq ≤ head ${head}`);

  // The truth: the stream (nothing is trimmed within the tests' minutes) and the history agree on every seq.
  const stream = await readStream(o.redis, o.stream);
  let history: History | undefined;
  let historyMs = 0;
  if (o.dynamo) {
    const h = await historyCaughtUp(o.dynamo.client, o.dynamo.table, head, 45_000, o.historyFrom ?? 1);
    history = h.history;
    historyMs = h.ms;
  }
  const truth = new Map<number, Placement>(stream);
  const conflicts: number[] = [];
  for (const [seq, p] of history?.bySeq ?? []) {
    const s = truth.get(seq);
    if (s && !samePlacement(s, p)) conflicts.push(seq);
    if (!s) truth.set(seq, p);
  }
  t.same(conflicts.slice(0, 10), [], 'stream and history agree on every seq');

  const wrong = acked.filter((a) => {
    const p = truth.get(a.seq!);
    return !p || p.userId !== a.userId || p.x !== a.x || p.y !== a.y || p.color !== a.color;
  });
  t.same(wrong.slice(0, 5).map((a) => ({ seq: a.seq, user: a.userId, found: truth.get(a.seq!) })), [], `every one of ${acked.length} acknowledged placements is in the store as acknowledged`);

  if (history) {
    const from = o.historyFrom ?? 1;
    const missing: number[] = [];
    for (let s = from; s <= head; s++) if (!history.bySeq.has(s)) missing.push(s);
    t.same(missing.slice(0, 10), [], `the history holds every seq ${from}…${head} (${missing.length} missing)`);
    t.same(history.duplicateSeqs.slice(0, 10), [], 'no seq twice in the history');
    const ackedMissing = acked.filter((a) => a.seq! >= from && !history!.bySeq.has(a.seq!));
    t.equal(ackedMissing.length, 0, 'every acknowledged placement is in the history');
    if (o.historyWrittenBy) {
      let written = 0;
      for (const url of o.historyWrittenBy) written += metricValue(await scrape(url), 'tessera_history_written_total') ?? 0;
      t.equal(written, history.items, `the writers wrote ${written} items for ${history.items} in the history: none written twice`);
    }
  }

  // The board: exactly the fold of all placements up to its seq.
  const missingTruth: number[] = [];
  for (let s = 1; s <= head; s++) if (!truth.has(s)) missingTruth.push(s);
  t.same(missingTruth.slice(0, 10), [], `every seq 1…${head} is known (stream or history)`);
  const expected = foldBoard(truth.values(), o.width, o.height, head);
  let diff = 0;
  for (let i = 0; i < o.width * o.height; i++) if (colorAt(expected, i) !== colorAt(board.bytes, i)) diff++;
  t.equal(diff, 0, `the board at seq ${head} is the fold of every placement (${diff} pixels differ)`);
  const overwritten = acked.filter((a) => colorAt(board.bytes, a.y * o.width + a.x) !== a.color).length;
  t.comment(`${acked.length} acknowledged, ${overwritten} of them since overwritten by a later seq`);

  // Failed requests that were applied all the same.
  const byUser = new Map<string, number>();
  for (const p of truth.values()) byUser.set(p.userId, (byUser.get(p.userId) ?? 0) + 1);
  const ambiguousApplied = failed.filter((a) => byUser.has(a.userId));
  const raced = failed.filter((a) => keepAliveRace(a) && !(o.allowFailure?.(a) ?? false));
  t.same(raced.filter((a) => byUser.has(a.userId)).map((a) => a.userId).slice(0, 5), [], `a request closed without an answer outside the fault was never applied (${raced.length} such)`);
  if (raced.length) t.comment(`${raced.length} requests closed by HAProxy without an answer (keep-alive race), none applied`);
  t.same([...byUser].filter(([, n]) => n > 1).slice(0, 5), [], 'no user placed twice (no request applied twice)');
  const known = new Set(o.attempts.map((a) => a.userId));
  const strangers = [...truth.values()].filter((p) => !known.has(p.userId) && !(o.extraUsers?.(p.userId) ?? false));
  t.same(strangers.slice(0, 5), [], 'every placement in the store was requested by the load');

  // Listeners.
  let listenersMs = 0;
  for (const fleet of o.fleets ?? []) {
    listenersMs = Math.max(listenersMs, await fleet.waitCaughtUp(head, o.catchUpTimeoutMs ?? 20_000));
    const st = fleet.stats();
    t.equal(st.gaps, 0, `listeners: no gap (${st.listeners} listeners, ${st.reconnects} reconnects)`, { gaps: fleet.gapLog.slice(0, 5) });
    t.equal(st.duplicates, 0, 'listeners: no duplicate');
    t.equal(st.mismatches, 0, 'listeners: every listener saw the same frame for the same seqs');
    if (!o.allowResets) t.equal(st.resets, 0, 'listeners: no reset (every resume was served from the stream)');
    const since = o.fleetSince ?? 0;
    if (!o.allowResets) t.equal(fleet.chain(since, head).unseen, 0, `listeners: every seq ${since + 1}…${head} was delivered`);
    // A frame is the set of its seqs' placements: compare sets (one pixel's entries in seq order), not seq by seq.
    const frames = fleet.badFrames((s) => {
      const p = truth.get(s);
      return p ? (p.y * o.width + p.x) * 16 + p.color : undefined;
    });
    t.same(frames.bad.slice(0, 5), [], `listeners: each of ${frames.checked} distinct frames holds exactly the placements of its seqs`);
  }
  return { head, acked: acked.length, failed: failed.length, ambiguousApplied, keepAliveRaces: raced.length, listenersCaughtUpMs: listenersMs, historyCaughtUpMs: historyMs };
}

function samePlacement(a: Placement, b: Placement): boolean {
  return a.x === b.x && a.y === b.y && a.color === b.color && a.userId === b.userId && a.placedAt === b.placedAt;
}

/** Reads one sample of a Prometheus text page (summing every label set when `labels` is omitted). */
export function metricValue(text: string, name: string, labels?: Record<string, string>): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels) {
      const have = Object.fromEntries((m[3] ?? '').split(',').filter(Boolean).map((kv) => {
        const eq = kv.indexOf('=');
        return [kv.slice(0, eq), kv.slice(eq + 2, -1)];
      }));
      if (!Object.entries(labels).every(([k, v]) => have[k] === v)) continue;
    }
    total = (total ?? 0) + Number(m[4]);
  }
  return total;
}

export async function scrape(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  return r.text();
}

/**
 * For loads too big to read back from the stream: the listeners (checked gap-free and consistent) saw every
 * seq after `initial.seq`; folding their frames onto the initial board must give the board at its seq, and
 * every acknowledged PUT must be in the frame that covers its seq.
 */
export async function checkAgainstListeners(t: Test, o: { url: string; width: number; height: number; initial: Board; fleet: ListenerFleet; attempts: Attempt[] }): Promise<{ head: number }> {
  const board = await readBoard(o.url);
  await o.fleet.waitCaughtUp(board.seq, 30_000);
  const st = o.fleet.stats();
  t.equal(st.gaps, 0, `listeners: no gap (${st.listeners} listeners, ${st.reconnects} reconnects)`, { gaps: o.fleet.gapLog.slice(0, 5) });
  t.equal(st.duplicates, 0, 'listeners: no duplicate');
  t.equal(st.mismatches, 0, 'listeners: every listener saw the same frame for the same seqs');
  t.equal(st.resets, 0, 'listeners: no reset');
  const bytes = Buffer.from(o.initial.bytes);
  const { frames, unseen } = o.fleet.chain(o.initial.seq, board.seq);
  for (const f of frames) {
    for (const e of f.entries) {
      const i = e >>> 4;
      const byte = i >> 1;
      bytes[byte] = i % 2 === 0 ? (bytes[byte] & 0x0f) | ((e & 15) << 4) : (bytes[byte] & 0xf0) | (e & 15);
    }
  }
  t.equal(unseen, 0, `listeners: every seq ${o.initial.seq + 1}…${board.seq} was delivered`);
  let diff = 0;
  for (let i = 0; i < o.width * o.height; i++) if (colorAt(bytes, i) !== colorAt(board.bytes, i)) diff++;
  t.equal(diff, 0, `the board at seq ${board.seq} is the initial board plus every delivered frame (${diff} pixels differ)`);
  const acked = o.attempts.filter((a) => a.status === 200);
  const undelivered = acked.filter((a) => !(a.seq! > o.initial.seq && a.seq! <= board.seq - unseen));
  t.equal(undelivered.length, 0, `every one of ${acked.length} acknowledged PUTs has its seq in a delivered frame`);
  const ackedEntry = new Map(acked.map((a) => [a.seq!, (a.y * o.width + a.x) * 16 + a.color]));
  const checked = o.fleet.badFrames((s) => ackedEntry.get(s));
  t.same(checked.bad.slice(0, 5), [], `every acknowledged PUT is in the frame of its seq (${checked.checked} frames, one pixel's entries in seq order)`);
  const seqs = new Set(acked.map((a) => a.seq));
  t.equal(seqs.size, acked.length, 'no seq acknowledged twice');
  return { head: board.seq };
}
