// Damage alerts over Web Push. A watcher names a threshold (percent of the artwork damaged); crossing it upward
// fires one alert, and the watcher is re-armed only once damage falls below half the threshold (hysteresis: a
// fight over one pixel at the threshold does not alert on every placement). Every container sees the same
// placements and so the same crossing; the store's claim (Redis SET NX PX) lets exactly one of them send it,
// and no watcher gets more than one alert per PROJECT_ALERT_INTERVAL_MS.
import webpush from 'web-push';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { AlertSubscription } from './model.js';
import type { ProjectStore } from './store.js';
import type { Tracked } from './tracker.js';

const SEND_TIMEOUT_MS = 10_000;

export type SendOutcome = 'sent' | 'gone' | 'failed';

export interface PushSender {
  send(sub: AlertSubscription, payload: string): Promise<SendOutcome>;
}

/**
 * web-push builds the request (aes128gcm payload encryption, VAPID JWT); fetch sends it, so the endpoint's
 * scheme is whatever PUSH_ALLOWED_ORIGINS allows (a local push service in tests speaks plain HTTP).
 */
export class WebPushSender implements PushSender {
  constructor(private readonly vapid: { publicKey: string; privateKey: string; subject: string }) {}

  async send(sub: AlertSubscription, payload: string): Promise<SendOutcome> {
    const req = webpush.generateRequestDetails({ endpoint: sub.endpoint, keys: sub.keys }, payload, {
      vapidDetails: this.vapid,
      TTL: 3600,
      urgency: 'high',
      contentEncoding: 'aes128gcm',
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = String(v);
    const res = await fetch(req.endpoint, { method: 'POST', headers, body: req.body ? new Uint8Array(req.body) : undefined, signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
    await res.arrayBuffer();
    // RFC 8030: 404/410 = the subscription expired or was withdrawn.
    if (res.status === 404 || res.status === 410) return 'gone';
    return res.ok ? 'sent' : 'failed';
  }
}

interface Watcher {
  sub: AlertSubscription;
  /** Fires on the next crossing; off after an alert until damage falls below half the threshold. */
  armed: boolean;
}

export interface AlertPayload {
  project: string;
  name: string;
  damagePercent: number;
  completionPercent: number;
  url: string;
}

export class DamageAlerts {
  private readonly watchers = new Map<string, Watcher[]>();

  constructor(
    private readonly o: {
      store: ProjectStore;
      sender: PushSender | undefined;
      intervalMs: number;
      log: Logger;
      metrics: Metrics;
      link: (id: string) => string;
    },
  ) {}

  /** The subscriptions as stored; a watcher already known keeps its state, a new one is armed unless damage is past its threshold already. */
  replace(all: Map<string, AlertSubscription[]>, damageOf: (projectId: string) => number): void {
    const next = new Map<string, Watcher[]>();
    for (const [pid, subs] of all) {
      const old = new Map((this.watchers.get(pid) ?? []).map((w) => [w.sub.id, w]));
      const damage = damageOf(pid);
      next.set(pid, subs.map((sub) => {
        const w = old.get(sub.id);
        return { sub, armed: w && w.sub.thresholdPercent === sub.thresholdPercent ? w.armed : damage < sub.thresholdPercent };
      }));
    }
    this.watchers.clear();
    for (const [k, v] of next) this.watchers.set(k, v);
  }

  get count(): number {
    let n = 0;
    for (const ws of this.watchers.values()) n += ws.length;
    return n;
  }

  /** After a project's counts changed (at most every flush interval). */
  check(t: Tracked): void {
    const ws = this.watchers.get(t.project.id);
    if (!ws) return;
    const damage = t.damagePercent;
    for (const w of ws) {
      if (w.armed && damage >= w.sub.thresholdPercent) {
        w.armed = false;
        void this.fire(t, w.sub);
      } else if (!w.armed && damage < w.sub.thresholdPercent / 2) w.armed = true;
    }
  }

  private async fire(t: Tracked, sub: AlertSubscription): Promise<void> {
    const { store, sender, intervalMs, log, metrics } = this.o;
    const pid = t.project.id;
    try {
      if (!sender) return;
      if (!(await store.claimAlert(pid, sub.id, intervalMs))) {
        metrics.projectAlerts.inc({ outcome: 'claimed_elsewhere' });
        return;
      }
      const payload: AlertPayload = {
        project: pid,
        name: t.project.name,
        damagePercent: Math.round(t.damagePercent * 10) / 10,
        completionPercent: Math.round((1000 * t.correct) / t.total) / 10,
        url: this.o.link(pid),
      };
      const outcome = await sender.send(sub, JSON.stringify(payload));
      metrics.projectAlerts.inc({ outcome });
      if (outcome === 'gone') await store.unsubscribe(pid, sub.id);
      log.info({ project: pid, sub: sub.id, outcome, damagePercent: payload.damagePercent }, 'project damage alert');
    } catch (err) {
      metrics.projectAlerts.inc({ outcome: 'failed' });
      log.warn({ err: (err as Error).message, project: pid, sub: sub.id }, 'project damage alert failed');
    }
  }
}
