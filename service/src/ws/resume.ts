// ?since=<seq>: send every placement after seq, then join the live topic with no gap and no duplicate.
import type { WebSocket } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { RESET_MESSAGE, UPDATES_TOPIC } from '../fanout.js';
import { encodeFrames } from '../wire/frames.js';

const PAGE = 10_000;

export interface Resumable {
  closed: boolean;
}

/**
 * Pages come from the store (which decides what is too old), capped at what the fanout already published;
 * the last stretch comes from the fanout's memory in the same synchronous step as joining the topic, so the
 * next live frame starts right after the last entry sent.
 */
export async function resume<T extends Resumable>(ctx: Context, ws: WebSocket<T>, since: number): Promise<void> {
  let after = since;
  const closed = () => ws.getUserData().closed;
  for (;;) {
    // When memory covers the tail, the store only has to confirm `after` is not too old: ask for one entry.
    const res = await ctx.store.since(after, ctx.fanout.covers(after) ? 1 : PAGE);
    if (closed()) return;
    if (!res.ok) return sendReset(ws);
    const sent = ctx.fanout.sentSeq;
    if (after > sent) {
      // The client saw an ack the fanout has not published yet: wait for it (at most one batch interval).
      await new Promise((r) => setTimeout(r, 10));
      if (closed()) return;
      continue;
    }
    const tail = ctx.fanout.recent(after);
    if (tail) {
      ws.cork(() => {
        if (tail.length) for (const f of encodeFrames(after + 1, tail)) ws.send(f, true);
        ws.subscribe(UPDATES_TOPIC);
      });
      return;
    }
    const entries: number[] = [];
    for (const p of res.placements) {
      if (p.seq !== after + entries.length + 1 || p.seq > sent) break;
      entries.push((p.y * ctx.config.width + p.x) * 16 + p.color);
    }
    if (entries.length === 0) return sendReset(ws); // the store holds nothing usable: never loop forever
    ws.cork(() => {
      for (const f of encodeFrames(after + 1, entries)) ws.send(f, true);
    });
    after += entries.length;
  }
}

/** Too old to resume: the client refetches the board; live frames follow on this socket meanwhile. */
function sendReset<T>(ws: WebSocket<T>): void {
  ws.cork(() => {
    ws.send(RESET_MESSAGE, false);
    ws.subscribe(UPDATES_TOPIC);
  });
}
