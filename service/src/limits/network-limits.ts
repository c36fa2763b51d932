// What the routes call: spend one action from the budgets of the client's networks, refuse with 429
// rate_limited when one is spent, and fail open (log line + metric) when the budget store is unreachable:
// a Redis outage must not turn into refusing every visitor.
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { networkPrefixes, prefixHash } from '../network-prefix.js';
import { ApiError } from '../wire/errors.js';
import type { Budget, BudgetKey, BudgetName, Scope, Spent } from './budget.js';
import { MemoryBudget } from './memory-budget.js';

/** Per fine prefix and minute; 0 = off. The coarse prefix gets coarseFactor × that (0 = no coarse budget). */
export type BudgetLimits = Record<BudgetName, number> & { coarseFactor: number };

const WHAT: Record<BudgetName, string> = {
  requests: 'requests',
  sessions: 'new sessions',
  placements: 'placements',
  sockets: 'WebSocket connections',
  resumes: 'WebSocket resumes',
};
const FAIL_OPEN_LOG_MS = 10_000;
const BLOCKED_SWEEP_SIZE = 10_000;

export interface NetworkLimitsOptions {
  budget: Budget;
  limits: BudgetLimits;
  /** prefixHashKey(SESSION_SECRET): budgets key on a keyed hash, never on the address. */
  hashKey: Buffer;
  metrics: Metrics;
  log: Logger;
}

interface Asked {
  keys: BudgetKey[];
  scopes: Scope[];
}

export class NetworkLimits {
  /** Requests only: networks a budget reply said are spent, until when (the request path does not wait for Redis). */
  private readonly blocked = new Map<string, number>();
  private lastFailOpenLog = 0;

  constructor(private readonly opts: NetworkLimitsOptions) {}

  /** Resolves null when the action may go ahead, else the refusal to answer (already counted in the metrics). */
  async spend(name: BudgetName, address: string): Promise<ApiError | null> {
    const asked = this.keysFor(name, address);
    if (!asked) return null;
    let spent: Spent;
    try {
      spent = await this.opts.budget.spend(name, asked.keys);
    } catch (err) {
      this.failedOpen(name, err);
      return null;
    }
    return spent.ok ? null : this.refusal(name, asked, spent.index, spent.retryAfterMs);
  }

  /**
   * Requests: answered without waiting. Embedded, the count is exact; with Redis the request is counted in
   * the background and a spent reply blocks the network on this container until its budget has room, so a
   * container lets through at most the requests in flight to Redis beyond the fleet-wide budget.
   */
  admitRequest(address: string, now = Date.now()): ApiError | null {
    const asked = this.keysFor('requests', address);
    if (!asked) return null;
    const { budget } = this.opts;
    if (budget instanceof MemoryBudget) {
      const spent = budget.spendNow('requests', asked.keys, now);
      return spent.ok ? null : this.refusal('requests', asked, spent.index, spent.retryAfterMs);
    }
    for (let i = 0; i < asked.keys.length; i++) {
      const until = this.blocked.get(asked.keys[i].key);
      if (until === undefined) continue;
      if (until > now) return this.refusal('requests', asked, i, until - now);
      this.blocked.delete(asked.keys[i].key);
    }
    budget.spend('requests', asked.keys, now).then(
      (spent) => {
        if (spent.ok) return;
        if (this.blocked.size >= BLOCKED_SWEEP_SIZE) this.sweep(Date.now());
        this.blocked.set(asked.keys[spent.index].key, Date.now() + spent.retryAfterMs);
      },
      (err) => this.failedOpen('requests', err),
    );
    return null;
  }

  private keysFor(name: BudgetName, address: string): Asked | null {
    const { limits, hashKey } = this.opts;
    const fine = limits[name];
    if (fine === 0) return null;
    const p = networkPrefixes(address);
    const keys: BudgetKey[] = [{ key: `f:${prefixHash(p.fine, hashKey)}`, limit: fine }];
    const scopes: Scope[] = ['fine'];
    if (limits.coarseFactor > 0) {
      keys.push({ key: `c:${prefixHash(p.coarse, hashKey)}`, limit: fine * limits.coarseFactor });
      scopes.push('coarse');
    }
    return { keys, scopes };
  }

  private refusal(name: BudgetName, asked: Asked, index: number, retryAfterMs: number): ApiError {
    const scope = asked.scopes[index];
    const limit = asked.keys[index].limit;
    this.opts.metrics.rejections.inc({ reason: `rate_limited_${name}` });
    const network = scope === 'fine' ? 'your network (IPv4 address or IPv6 /64)' : 'your wider network (IPv4 /24 or IPv6 /48)';
    return new ApiError('rate_limited', `too many ${WHAT[name]} from ${network}: at most ${limit} a minute; try again in ${Math.ceil(retryAfterMs / 1000)} s`, {
      budget: name,
      scope,
      limit,
      retryAfterMs,
    });
  }

  private failedOpen(name: BudgetName, err: unknown): void {
    this.opts.metrics.limitFailOpen.inc({ budget: name });
    const now = Date.now();
    if (now - this.lastFailOpenLog < FAIL_OPEN_LOG_MS) return;
    this.lastFailOpenLog = now;
    this.opts.log.warn({ err: (err as Error).message, budget: name }, 'network budgets unreachable: letting requests through unlimited (fail open)');
  }

  private sweep(now: number): void {
    for (const [key, until] of this.blocked) if (until <= now) this.blocked.delete(key);
  }
}

/** The Retry-After header for a rate_limited refusal. */
export function retryAfterHeader(err: ApiError): Record<string, string> {
  const ms = err.extra.retryAfterMs;
  return typeof ms === 'number' ? { 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) } : {};
}
