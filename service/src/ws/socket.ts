// /ws: upgrade (origin, session, ?since=), then placements in and update frames out.
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { loadUws } from '../uws.js';
import { tokenFrom } from '../auth/token.js';
import type { Context } from '../context.js';
import { UPDATES_TOPIC } from '../fanout.js';
import { clientAddress } from '../http/client-address.js';
import { networkPrefixes } from '../network-prefix.js';
import { sendError, track } from '../http/respond.js';
import { retryAfterHeader } from '../limits/network-limits.js';
import { placePixel } from '../place.js';
import { handleWatchMessage } from '../projects/watch.js';
import { ApiError } from '../wire/errors.js';
import { parseClientMessage, type ServerMessage } from '../wire/messages.js';
import { CLOSE_TOO_MANY_SOCKETS } from '../wire/close-codes.js';
import { closeReason } from './close-reason.js';
import { resume } from './resume.js';
import { warmingUp, warmupLeftMs } from '../warmup.js';
import { enforceTotalBuffered, NetworkSockets, TOTAL_BUFFERED_CHECK_MS } from './socket-caps.js';

export interface SocketData {
  userId: string | null;
  /** Date.now() before which this session is still warming up (SESSION_WARMUP_MS; warmup.ts). */
  warmUntil: number;
  since: number | null;
  address: string;
  /** The fine network prefix (network-prefix.ts) the per-network socket cap counts. */
  network: string;
  closed: boolean;
  /** Over WS_MAX_PER_NETWORK: open() closes it with CLOSE_TOO_MANY_SOCKETS; it never counts as a client. */
  refused: boolean;
  /** Set when the server cuts the socket for a reason its close code (1006) cannot tell. */
  droppedFor?: 'total_buffered';
  windowStart: number;
  messages: number;
}

export const MAX_MESSAGE_BYTES = 1024;
export const GOING_AWAY = 1001;
const POLICY_VIOLATION = 1008;

/** Browser pages may connect only from an allowed origin (by default: the host they were served from). */
export function originAllowed(origin: string, host: string, allowed: string[]): boolean {
  if (!origin) return true; // not a browser: no ambient cookie to abuse
  if (allowed.length > 0) return allowed.includes(origin) || allowed.includes('*');
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

export function registerSocket(app: TemplatedApp, ctx: Context, sockets: Set<WebSocket<SocketData>>): void {
  const perNetwork = new NetworkSockets(ctx.config.wsMaxPerNetwork);
  if (ctx.config.wsTotalBufferedMax > 0) {
    // A timer, not the frame flush: a burst of resumes queues the most, and sends no live frame.
    const timer = setInterval(() => {
      if (ctx.lifecycle.draining) return clearInterval(timer);
      const closed = enforceTotalBuffered(sockets, ctx.config.wsTotalBufferedMax, (ws) => (ws.getUserData().droppedFor = 'total_buffered'));
      if (closed > 0) {
        ctx.log.warn({ closed, max: ctx.config.wsTotalBufferedMax }, 'sockets together queued too much; closed the slowest readers');
      }
    }, TOTAL_BUFFERED_CHECK_MS);
    timer.unref();
  }
  app.ws<SocketData>('/ws', {
    compression: loadUws().DISABLED,
    maxPayloadLength: MAX_MESSAGE_BYTES,
    maxBackpressure: ctx.config.wsMaxBackpressure,
    // A reader too slow to keep up is closed rather than skipped: skipping would leave a gap.
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPingsAutomatically: true,

    upgrade: (res, req, context) => {
      const reply = track(res);
      const address = clientAddress(res, req, ctx.config.trustedProxyHops);
      const origin = req.getHeader('origin');
      const host = req.getHeader('host');
      const query = new URLSearchParams(req.getQuery() ?? '');
      const token = tokenFrom(req.getHeader('authorization'), req.getHeader('cookie'));
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      if (ctx.lifecycle.draining) return sendError(reply, new ApiError('unavailable', 'this server is shutting down'));
      if (!originAllowed(origin, host, ctx.config.allowedOrigins)) {
        ctx.metrics.rejections.inc({ reason: 'origin' });
        return sendError(reply, new ApiError('forbidden', `origin ${origin} may not connect`));
      }
      const network = networkPrefixes(address).fine;
      // Over the cap the socket is upgraded only to be closed with a code a browser can read. Checked again right
      // before the upgrade below, whose open() (the count) runs synchronously: no race past the cap.
      const refuse = () => {
        ctx.metrics.rejections.inc({ reason: 'too_many_sockets' });
        const refused: SocketData = { userId: null, warmUntil: 0, since: null, address, network, refused: true, closed: false, windowStart: 0, messages: 0 };
        res.cork(() => res.upgrade(refused, key, protocol, extensions, context));
      };
      if (!perNetwork.admits(network)) return refuse();
      let since: number | null = null;
      const rawSince = query.get('since');
      if (rawSince !== null && rawSince !== '') {
        if (!/^\d{1,15}$/.test(rawSince)) return sendError(reply, new ApiError('invalid_request', 'since must be a non-negative integer seq'));
        since = Number(rawSince);
      }
      const session = ctx.tokens.verify(token);
      const data: SocketData = { userId: session?.userId ?? null, warmUntil: session ? Date.now() + warmupLeftMs(ctx.config, session) : 0, since, address, network, refused: false, closed: false, windowStart: Date.now(), messages: 0 };
      // Fleet-wide per-network budgets (limits/): every open, and a resume (?since=) also from its own, costlier one.
      void (async () => {
        const refused = (await ctx.limits.spend('sockets', address)) ?? (since === null ? null : await ctx.limits.spend('resumes', address));
        if (refused) return sendError(reply, refused, retryAfterHeader(refused));
        if (reply.aborted) return;
        if (!perNetwork.admits(network)) return refuse();
        res.cork(() => res.upgrade(data, key, protocol, extensions, context));
      })();
    },

    open: (ws) => {
      if (ws.getUserData().refused) {
        ws.end(CLOSE_TOO_MANY_SOCKETS, 'too_many_sockets');
        return;
      }
      sockets.add(ws);
      perNetwork.opened(ws.getUserData().network);
      ctx.metrics.wsClients.inc();
      // Every socket learns the current frame interval first (the client shows it); changes follow on the topic.
      ws.send(ctx.fanout.paceMessage, false);
      // And the live controls (frozen, one colour, cooldown); changes follow on the topic.
      ws.send(ctx.controls.message, false);
      const { since } = ws.getUserData();
      if (since === null) ws.subscribe(UPDATES_TOPIC);
      else
        resume(ctx, ws, since).catch((err) => {
          ctx.log.warn({ err: (err as Error).message, since }, 'resume failed; closing so the client retries');
          if (!ws.getUserData().closed) ws.end(1011, 'resume failed, reconnect');
        });
    },

    message: (ws, message, isBinary) => {
      const data = ws.getUserData();
      const now = Date.now();
      if (now - data.windowStart >= 1000) {
        data.windowStart = now;
        data.messages = 0;
      }
      data.messages++;
      if (data.messages > ctx.config.wsMessagesPerSecond * 3) {
        ctx.metrics.wsDropped.inc({ reason: 'flood' });
        ws.end(POLICY_VIOLATION, 'too many messages');
        return;
      }
      if (data.messages > ctx.config.wsMessagesPerSecond) return reply(ws, { t: 'error', id: null, error: 'rate_limited', message: 'too many messages' });
      if (isBinary) return reply(ws, { t: 'error', id: null, error: 'invalid_request', message: 'send text JSON messages' });
      const text = Buffer.from(message).toString('utf8');
      if (handleWatchMessage(ctx, ws, text)) return;
      const msg = parseClientMessage(text, ctx.config.width, ctx.config.height);
      if (!msg.ok) return reply(ws, { t: 'error', id: msg.id, error: 'invalid_pixel', message: msg.message });
      const { id, x, y, color } = msg.value;
      if (!data.userId) return reply(ws, { t: 'error', id, error: 'no_session', message: 'create a session first: POST /api/session' });
      if (data.warmUntil > now) {
        ctx.metrics.rejections.inc({ reason: 'warming_up' });
        const e = warmingUp(data.warmUntil - now);
        return reply(ws, { t: 'error', id, error: e.code, message: e.message, retryAfterMs: data.warmUntil - now });
      }
      placePixel(ctx, data.userId, { x, y, color }, data.address).then(
        (placed) => reply(ws, { t: 'ack', id, ...placed }),
        (err) => {
          if (err instanceof ApiError) {
            const extra = typeof err.extra.retryAfterMs === 'number' ? { retryAfterMs: err.extra.retryAfterMs } : {};
            reply(ws, { t: 'error', id, error: err.code, message: err.message, ...extra });
          } else {
            ctx.log.error({ err }, 'socket placement failed unexpectedly');
            reply(ws, { t: 'error', id, error: 'unavailable' });
          }
        },
      );
    },

    close: (ws, code) => {
      const data = ws.getUserData();
      data.closed = true;
      if (data.refused) return;
      sockets.delete(ws);
      perNetwork.closed(data.network);
      ctx.metrics.wsClients.dec();
      ctx.metrics.wsClosed.inc({ reason: closeReason(code, ctx.lifecycle.draining) });
      if (code === 1006 || code === 1009) ctx.metrics.wsDropped.inc({ reason: data.droppedFor ?? String(code) });
    },
  });
}

function reply(ws: WebSocket<SocketData>, msg: ServerMessage): void {
  if (ws.getUserData().closed) return;
  ws.cork(() => ws.send(JSON.stringify(msg), false));
}
