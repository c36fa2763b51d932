// What one container's sockets may cost: a cap per network (so one address cannot hold thousands of sockets)
// and a cap on the bytes queued for all of them together (WS_MAX_BACKPRESSURE × sockets is far above RAM).
import type { WebSocket } from 'uWebSockets.js';

/** Open sockets per network prefix on this container. */
export class NetworkSockets {
  private readonly open = new Map<string, number>();

  constructor(private readonly cap: number) {}

  /** False when the network already holds `cap` sockets (cap 0 = no cap). */
  admits(network: string): boolean {
    return this.cap === 0 || (this.open.get(network) ?? 0) < this.cap;
  }

  opened(network: string): void {
    this.open.set(network, (this.open.get(network) ?? 0) + 1);
  }

  closed(network: string): void {
    const n = (this.open.get(network) ?? 0) - 1;
    if (n > 0) this.open.set(network, n);
    else this.open.delete(network);
  }

  count(network: string): number {
    return this.open.get(network) ?? 0;
  }
}

/** Summing getBufferedAmount() is a native call per socket: this often. */
export const TOTAL_BUFFERED_CHECK_MS = 250;

/**
 * When the sockets together queue more than `max` bytes, closes the ones holding the most until the rest fit:
 * a hard close, like uWebSockets.js's own backpressure limit (the client sees 1006 and resumes with ?since=).
 * Returns how many it closed.
 */
export function enforceTotalBuffered<T>(sockets: Iterable<WebSocket<T>>, max: number, beforeClose: (ws: WebSocket<T>) => void): number {
  let total = 0;
  const queued: [WebSocket<T>, number][] = [];
  for (const ws of sockets) {
    const n = ws.getBufferedAmount();
    if (n > 0) queued.push([ws, n]);
    total += n;
  }
  if (total <= max) return 0;
  queued.sort((a, b) => b[1] - a[1]);
  let closed = 0;
  for (const [ws, n] of queued) {
    if (total <= max) break;
    total -= n;
    closed++;
    beforeClose(ws);
    ws.close();
  }
  return closed;
}
