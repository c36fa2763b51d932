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
 * Frames up to the fanout's sentSeq come from the store (or the fanout's memory); the socket joins the
 * topic in the same synchronous step as the last of them is sent, so the next live frame starts right after.
 */
export async function resume<T extends Resumable>(ctx: Context, ws: WebSocket<T>, since: number): Promise<void> {
  let after = since;
  for (;;) {
    if (after > ctx.fanout.sentSeq) {
      // The client saw an ack the fanout has not published yet, or a seq this canvas never reached.
      const head = await ctx.store.headSeq();
      if (ws.getUserData().closed) return;
      if (after > head) {
        sendReset(ws);
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
      if (ws.getUserData().closed) return;
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
    const res = await ctx.store.since(after, PAGE);
    const data = ws.getUserData();
    if (data.closed) return;
    if (!res.ok) {
      sendReset(ws);
      return;
    }
    const sent = ctx.fanout.sentSeq;
    const entries: number[] = [];
    for (const p of res.placements) {
      if (p.seq !== after + entries.length + 1 || p.seq > sent) break;
      entries.push((p.y * ctx.config.width + p.x) * 16 + p.color);
    }
    if (entries.length === 0 && after < sent) {
      // The store holds nothing usable past `after` yet the fanout sent more: let recent() or the next page answer.
      await new Promise((r) => setTimeout(r, 20));
      if (ws.getUserData().closed) return;
      continue;
    }
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
