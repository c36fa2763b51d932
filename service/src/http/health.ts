// /healthz (the process is up), /readyz (route traffic here), /metrics (Prometheus).
import type { TemplatedApp } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { send, sendJson, track } from './respond.js';

export function registerHealth(app: TemplatedApp, ctx: Context): void {
  app.get('/healthz', (res) => sendJson(track(res), 200, { ok: true }));

  app.get('/readyz', (res) => {
    const reply = track(res);
    const ready = !ctx.lifecycle.draining && ctx.store.ready();
    const fenced = ctx.store.fenced?.();
    sendJson(reply, ready ? 200 : 503, {
      ready,
      draining: ctx.lifecycle.draining,
      store: ctx.store.ready(),
      // The seq fence: Redis lost acknowledged placements; no placement until the canvas is restored.
      ...(fenced ? { fenced: { ...fenced, message: 'Redis went back in time: placements stop until the canvas is restored (ops:rebuild or the automatic tail restore)' } } : {}),
    });
  });

  app.get('/metrics', (res) => {
    const reply = track(res);
    ctx.metrics.registry.metrics().then(
      (text) => send(reply, 200, text, { 'Content-Type': ctx.metrics.registry.contentType, 'Cache-Control': 'no-store' }),
      (err) => sendJson(reply, 503, { error: 'unavailable', message: (err as Error).message }),
    );
  });
}
