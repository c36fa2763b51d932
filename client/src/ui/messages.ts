// What to tell people when a placement does not go through, in words rather than error codes.
import { formatWait } from './countdown.js';
import type { ToastKind } from './toast.js';

export function refusalMessage(code: string, serverMessage: string, retryAfterMs?: number): { text: string; kind: ToastKind } {
  switch (code) {
    case 'cooldown':
      return { text: `Too soon: you can place your next pixel in ${formatWait(retryAfterMs ?? 0)}.`, kind: 'warn' };
    case 'warming_up':
      return { text: `New sessions wait a little before their first pixel: you can place in ${formatWait(retryAfterMs ?? 0)}.`, kind: 'warn' };
    case 'rate_limited':
      return { text: 'Slow down a little: too many requests. Try again in a few seconds.', kind: 'warn' };
    case 'no_session':
      return { text: 'Your session had expired. You are signed in again; place your pixel once more.', kind: 'warn' };
    case 'frozen':
      return { text: FROZEN_PLACE, kind: 'warn' };
    case 'color_not_allowed':
      return { text: 'That colour cannot be placed right now: the moderators allow only one colour.', kind: 'warn' };
    case 'banned':
      return { text: 'This account can no longer place pixels.', kind: 'error' };
    case 'unavailable':
      return { text: 'The canvas is busy right now and your pixel was not placed. Try again in a moment.', kind: 'error' };
    case 'invalid_pixel':
      return { text: 'That pixel cannot be placed.', kind: 'error' };
    case 'timeout':
      return { text: serverMessage, kind: 'error' };
    default:
      return { text: `Your pixel was not placed${serverMessage ? `: ${serverMessage}` : '.'}`, kind: 'error' };
  }
}

export function cooldownMessage(retryInMs: number): string {
  return `You can place your next pixel in ${formatWait(retryInMs)}.`;
}

export const FROZEN_PLACE = 'The canvas is frozen, so that pixel was not placed. Placing comes back when the moderators lift the freeze.';
export const OFFLINE_PLACE = 'You are offline, so that pixel was not placed. Tessera reconnects by itself.';
export const OFFLINE_STICKY = 'You are offline. The canvas will catch up as soon as you are back.';
export const CONNECTION_LOST = 'Connection lost. Reconnecting…';
export const RECONNECTED = 'Back online, and caught up.';
export const ZOOMED_TO_PLACE = 'Zoomed in so you can see your pixel: click again to place it.';
