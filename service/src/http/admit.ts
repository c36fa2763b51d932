// The first lines of every API handler: track aborts, find the client, spend its request budget.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { retryAfterHeader } from '../limits/network-limits.js';
import { clientAddress } from './client-address.js';
import { sendError, track, type Reply } from './respond.js';

export interface Admitted {
  reply: Reply;
  address: string;
}

/** Returns null (and has answered 429) when the client's network is over its request budget (limits/). */
export function admit(ctx: Context, res: HttpResponse, req: HttpRequest): Admitted | null {
  const reply = track(res);
  const address = clientAddress(res, req, ctx.config.trustedProxyHops);
  const refused = ctx.limits.admitRequest(address);
  if (refused) {
    sendError(reply, refused, retryAfterHeader(refused));
    return null;
  }
  return { reply, address };
}
