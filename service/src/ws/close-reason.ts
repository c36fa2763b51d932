// Why a socket closed, from its close code alone (cheap, and a handful of fixed labels for
// tessera_ws_closed_total). Codes are the ones docs/api.md lists; uWebSockets.js reports 1006 for a socket
// that ended without a close frame: a lost network, the idle timeout, a too-big message or the backpressure limit.
import { CLOSE_HIDDEN } from '../wire/close-codes.js';

export type CloseReason = 'hidden' | 'client' | 'server' | 'flood' | 'dropped' | 'other';

export function closeReason(code: number, draining: boolean): CloseReason {
  switch (code) {
    case CLOSE_HIDDEN:
      return 'hidden';
    case 1000: // our client reconnecting, or any client hanging up
    case 1005: // closed without a code
      return 'client';
    case 1001: // the server's own 1001 goes out only while it drains; otherwise a page went away
      return draining ? 'server' : 'client';
    case 1011: // resume failed
      return 'server';
    case 1008:
      return 'flood';
    case 1006:
    case 1009:
      return 'dropped';
    default:
      return 'other';
  }
}
