// {"t":"watch","project":<id>} / {"t":"unwatch","project":<id>} on /ws: a socket subscribes to the project's
// topic and first gets its snapshot; later changes arrive coalesced (service.ts). Placements never pass here.
import type { WebSocket } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { ApiError } from '../wire/errors.js';
import type { SocketData } from '../ws/socket.js';
import { PROJECT_ID } from './model.js';
import { projectTopic } from './service.js';

/** Projects one socket may watch at once. */
export const MAX_WATCHED = 16;
const WATCH = /"t"\s*:\s*"(un)?watch"/;

/** Handles the message if it is a watch or unwatch and returns true; anything else is left to the caller. */
export function handleWatchMessage(ctx: Context, ws: WebSocket<SocketData>, text: string): boolean {
  if (!WATCH.test(text)) return false;
  let msg: { t?: unknown; project?: unknown };
  try {
    msg = JSON.parse(text) as typeof msg;
  } catch {
    return false;
  }
  if (msg?.t !== 'watch' && msg?.t !== 'unwatch') return false;
  const send = (o: unknown) => !ws.getUserData().closed && ws.send(typeof o === 'string' ? o : JSON.stringify(o), false);
  const refuse = (e: ApiError) => send({ t: 'error', id: null, error: e.code, message: e.message, project: msg.project });
  if (typeof msg.project !== 'string' || !PROJECT_ID.test(msg.project)) {
    refuse(new ApiError('invalid_request', '"project" must be a project id'));
    return true;
  }
  const topic = projectTopic(msg.project);
  if (msg.t === 'unwatch') {
    ws.unsubscribe(topic);
    return true;
  }
  if (!ws.isSubscribed(topic) && ws.getTopics().filter((t) => t.startsWith('project/')).length >= MAX_WATCHED) {
    refuse(new ApiError('invalid_request', `a socket watches at most ${MAX_WATCHED} projects; unwatch one first`));
    return true;
  }
  let snapshot: string;
  try {
    snapshot = ctx.projects.snapshot(msg.project);
  } catch (err) {
    if (err instanceof ApiError) refuse(err);
    else throw err;
    return true;
  }
  // Subscribed and sent in one synchronous step: no update can fall between the snapshot and the topic.
  ws.cork(() => {
    ws.subscribe(topic);
    send(snapshot);
  });
  return true;
}
