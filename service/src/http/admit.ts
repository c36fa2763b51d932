// The first lines of every API handler: track aborts, find the client, spend its request budget.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { ApiError } from '../wire/errors.js';
import { clientAddress } from './client-address.js';
import { sendError, track, type Reply } from './respond.js';

export interface Admitted {
  reply: Reply;
  address: string;
}

/** Returns null (and has answered 429) when the address is over its request budget. */
export function admit(ctx: Context, res: HttpResponse, req: HttpRequest): Admitted | null {
  const reply = track(res);
  const address = clientAddress(res, req, ctx.config.trustedProxyHops);
  const waitMs = ctx.requestLimit.take(address);
  if (waitMs > 0) {
    ctx.metrics.rejections.inc({ reason: 'rate_limited' });
    sendError(reply, new ApiError('rate_limited', 'too many requests from this address', { retryAfterMs: waitMs }), {
      'Retry-After': String(Math.ceil(waitMs / 1000)),
    });
    return null;
  }
  return { reply, address };
}
