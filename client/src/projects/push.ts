// Web Push in the page: the service worker (push-sw.ts, served at /push-sw.js) shows the alerts; the page
// subscribes with the server's VAPID public key and hands the subscription to the server.
export const PUSH_WORKER_URL = '/push-sw.js';

function keyBytes(b64url: string): Uint8Array<ArrayBuffer> {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window;
}

/** The browser's push subscription for this site (asks for notification permission the first time). */
export async function pushSubscription(publicKey: string): Promise<PushSubscriptionJSON> {
  const reg = await navigator.serviceWorker.register(PUSH_WORKER_URL);
  const existing = await reg.pushManager.getSubscription();
  const sub = existing ?? (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) }));
  return sub.toJSON();
}
