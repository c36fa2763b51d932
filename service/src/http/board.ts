// GET /api/config and GET /api/board: what a client needs to draw the canvas.
import type { TemplatedApp } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { PALETTE } from '../wire/palette.js';
import { admit } from './admit.js';
import { fail, send, sendJson } from './respond.js';

export function registerBoard(app: TemplatedApp, ctx: Context): void {
  const configBody = () =>
    JSON.stringify({
      width: ctx.config.width,
      height: ctx.config.height,
      palette: PALETTE,
      // The live controls (controls.ts); sockets are told of every change with {"t":"controls"}.
      cooldownMs: ctx.controls.cooldownMs,
      frozen: ctx.controls.frozen,
      onlyColor: ctx.controls.onlyColor,
      hiddenGraceMs: ctx.config.hiddenGraceMs,
    });
  app.get('/api/config', (res, req) => {
    const a = admit(ctx, res, req);
    // Short: the controls in it change while the page is open (a reload must not show a stale freeze).
    if (a) sendJson(a.reply, 200, configBody(), { 'Cache-Control': 'public, max-age=2' });
  });

  app.get('/api/board', (res, req) => {
    const a = admit(ctx, res, req);
    if (!a) return;
    ctx.store.board().then(
      (snap) =>
        send(a.reply, 200, snap.bytes, {
          'Content-Type': 'application/octet-stream',
          // The CDN may keep it 3 s; clients catch up with /ws?since=<X-Canvas-Seq>.
          'Cache-Control': 'public, max-age=3',
          'X-Canvas-Seq': String(snap.seq),
          'Access-Control-Expose-Headers': 'X-Canvas-Seq',
        }),
      (err) => fail(a.reply, err, (e) => ctx.log.warn({ err: (e as Error).message }, 'board read failed')),
    );
  });
}
