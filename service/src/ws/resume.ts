// ?since=<seq>: send every placement after seq, then join the live topic with no gap and no duplicate.
// A resume is cheap or refused: older than RESUME_WINDOW_S it is a reset decided in memory; otherwise the
// fanout's memory serves it, and the store only the part memory lost, at most MAX_STORE_PAGES calls.
import type { WebSocket } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { RESET_MESSAGE, UPDATES_TOPIC } from '../fanout.js';
import { encodeFrames } from '../wire/frames.js';

const PAGE = 10_000;
/** Store pages one resume may read: beyond this the client refetches the (CDN-cached) board instead. */
export const MAX_STORE_PAGES = 5;
/** How long a resume waits for the fanout to publish a seq the client already saw acknowledged. */
const AHEAD_WAIT_MS = 5000;

export interface Resumable {
  closed: boolean;
}

type Outcome = 'memory' | 'store' | 'reset_window' | 'reset_store' | 'reset_budget';

export async function resume<T extends Resumable>(ctx: Context, ws: WebSocket<T>, since: number): Promise<void> {
  const outcome = await replay(ctx, ws, since);
  if (outcome) ctx.metrics.wsResumes.inc({ outcome });
}

/**
 * Pages come from the store capped at what the fanout already published; the last stretch comes from the
 * fanout's memory in the same synchronous step as joining the topic, so the next live frame starts right
 * after the last entry sent. Returns undefined when the socket closed meanwhile.
 */
async function replay<T extends Resumable>(ctx: Context, ws: WebSocket<T>, since: number): Promise<Outcome | undefined> {
  const closed = () => ws.getUserData().closed;
  const windowMs = ctx.config.resumeWindowS * 1000;
  if (windowMs > 0 && since < ctx.fanout.sentAt(Date.now() - windowMs)) return sendReset(ws, 'reset_window');
  let after = since;
  let pages = 0;
  let checkedAhead = false;
  const waitUntil = Date.now() + AHEAD_WAIT_MS;
  for (;;) {
    const sent = ctx.fanout.sentSeq;
    if (after > sent) {
      // The client saw an ack the fanout has not published yet (at most a batch interval), or a seq this canvas
      // never had: the store tells which, once.
      if (!checkedAhead) {
        checkedAhead = true;
        const res = await ctx.store.since(after, 1);
        if (closed()) return undefined;
        if (!res.ok) return sendReset(ws, 'reset_store');
      }
      if (Date.now() > waitUntil) return sendReset(ws, 'reset_store');
      await new Promise((r) => setTimeout(r, 10));
      if (closed()) return undefined;
      continue;
    }
    const tail = ctx.fanout.recent(after);
    if (tail) {
      ws.cork(() => {
        if (tail.length) for (const f of encodeFrames(after + 1, tail)) ws.send(f, true);
        ws.subscribe(UPDATES_TOPIC);
      });
      return pages > 0 ? 'store' : 'memory';
    }
    // What memory lost must fit in the pages left, else no store call is worth making.
    if (ctx.fanout.memoryFloor - after > (MAX_STORE_PAGES - pages) * PAGE) return sendReset(ws, 'reset_budget');
    pages++;
    const res = await ctx.store.since(after, PAGE);
    if (closed()) return undefined;
    if (!res.ok) return sendReset(ws, 'reset_store');
    const entries: number[] = [];
    for (const p of res.placements) {
      if (p.seq !== after + entries.length + 1 || p.seq > sent) break;
      entries.push((p.y * ctx.config.width + p.x) * 16 + p.color);
    }
    if (entries.length === 0) return sendReset(ws, 'reset_store'); // the store holds nothing usable: never loop forever
    ws.cork(() => {
      for (const f of encodeFrames(after + 1, entries)) ws.send(f, true);
    });
    after += entries.length;
  }
}

/** Too old to resume: the client refetches the board; live frames follow on this socket meanwhile. */
function sendReset<T>(ws: WebSocket<T>, outcome: Outcome): Outcome {
  ws.cork(() => {
    ws.send(RESET_MESSAGE, false);
    ws.subscribe(UPDATES_TOPIC);
  });
  return outcome;
}
