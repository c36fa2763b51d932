// The service worker for damage alerts: shows each push as a notification; a click opens the project's page.
// Bundled on its own to /push-sw.js (client/build.mjs): a service worker's scope is its path's directory.
interface PushPayload {
  project: string;
  name: string;
  damagePercent: number;
  completionPercent: number;
  url: string;
}

interface SwEvent {
  waitUntil(p: Promise<unknown>): void;
}
interface PushEvent extends SwEvent {
  data: { json(): unknown } | null;
}
interface ClickEvent extends SwEvent {
  notification: { close(): void; data: { url?: string } | null };
}
interface Sw {
  addEventListener(type: 'push', fn: (e: PushEvent) => void): void;
  addEventListener(type: 'notificationclick', fn: (e: ClickEvent) => void): void;
  registration: { showNotification(title: string, opts: { body: string; tag: string; data: { url: string } }): Promise<void> };
  clients: { openWindow(url: string): Promise<unknown> };
}

const sw = self as unknown as Sw;

sw.addEventListener('push', (e) => {
  const p = (e.data?.json() ?? {}) as Partial<PushPayload>;
  const name = p.name ?? 'A project';
  e.waitUntil(
    sw.registration.showNotification(`${name} is ${p.damagePercent ?? '?'} % damaged`, {
      body: `It is ${p.completionPercent ?? '?'} % complete. Tap to help repair it.`,
      tag: `project-${p.project ?? ''}`,
      data: { url: p.url ?? '/' },
    }),
  );
});

sw.addEventListener('notificationclick', (e) => {
  e.notification.close();
  e.waitUntil(sw.clients.openWindow(e.notification.data?.url ?? '/'));
});
