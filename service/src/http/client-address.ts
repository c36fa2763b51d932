// The client's address: the peer, or an X-Forwarded-For entry written by one of our own proxies.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

/**
 * With N trusted hops (CloudFront + ALB = 2, HAProxy = 1), the client is the Nth entry from the right
 * of X-Forwarded-For: entries further left were written by the client and prove nothing.
 */
export function clientAddress(res: HttpResponse, req: HttpRequest, trustedHops: number): string {
  // Lazy: reading the peer costs a getpeername syscall, needless behind trusted proxies.
  const peer = () => Buffer.from(res.getRemoteAddressAsText()).toString();
  if (trustedHops === 0) return peer();
  const xff = req.getHeader('x-forwarded-for');
  if (!xff) return peer();
  const hops = xff.split(',').map((s) => s.trim()).filter(Boolean);
  if (hops.length === 0) return peer();
  return hops[Math.max(0, hops.length - trustedHops)].slice(0, 64);
}
