// Writing uWS responses safely: every handler tracks abort first and corks its writes.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ApiError, statusLine } from '../wire/errors.js';

export interface Reply {
  readonly res: HttpResponse;
  aborted: boolean;
}

/** Must be called synchronously at the top of a handler, before any await. */
export function track(res: HttpResponse): Reply {
  const reply: Reply = { res, aborted: false };
  res.onAborted(() => {
    reply.aborted = true;
  });
  return reply;
}

export type Headers = Record<string, string>;

const BASE_HEADERS: Headers = { 'X-Content-Type-Options': 'nosniff' };

export function send(reply: Reply, status: number, body: string | Uint8Array, headers: Headers): void {
  if (reply.aborted) return;
  reply.aborted = true; // a response is written once
  reply.res.cork(() => {
    reply.res.writeStatus(statusLine(status));
    for (const k in BASE_HEADERS) reply.res.writeHeader(k, BASE_HEADERS[k]);
    for (const k in headers) reply.res.writeHeader(k, headers[k]);
    reply.res.end(body);
  });
}

export function sendJson(reply: Reply, status: number, body: unknown, headers: Headers = {}): void {
  send(reply, status, typeof body === 'string' ? body : JSON.stringify(body), {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    ...headers,
  });
}

export function sendError(reply: Reply, err: ApiError, headers: Headers = {}): void {
  sendJson(reply, err.status, err.body(), headers);
}

/** Reads a request body of at most `limit` bytes; copies each chunk (uWS frees it after the callback). */
export function readBody(reply: Reply, req: HttpRequest, limit: number): Promise<Buffer> {
  const declared = Number(req.getHeader('content-length') || '0');
  return new Promise((resolve, reject) => {
    if (declared > limit) {
      reject(new ApiError('payload_too_large', `body must be at most ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    reply.res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > limit) {
        done = true;
        reject(new ApiError('payload_too_large', `body must be at most ${limit} bytes`));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        done = true;
        resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      }
    });
  });
}

/** Turns anything thrown in a handler into one JSON answer; unknown errors become 503, logged once. */
export function fail(reply: Reply, err: unknown, onUnexpected: (err: unknown) => void): void {
  if (err instanceof ApiError) {
    sendError(reply, err, err.code === 'payload_too_large' ? { Connection: 'close' } : {});
    return;
  }
  onUnexpected(err);
  sendError(reply, new ApiError('unavailable', 'temporarily unavailable, try again'));
}
