// The operators' live controls (cooldown, freeze, one colour), as every container applies them: loaded at start,
// changed through the admin API, and in Redis mode picked up from the shared hash by polling it every second.
import type { Logger } from './log.js';
import { MAX_COOLDOWN_MS, NO_CONTROLS, type ControlsPatch, type ControlsStore, type StoredControls } from './store/controls-store.js';
import { ApiError } from './wire/errors.js';
import { PALETTE } from './wire/palette.js';

/** What placements obey now, and what clients are told. */
export interface EffectiveControls {
  cooldownMs: number;
  frozen: boolean;
  onlyColor: number | null;
}

export interface ControlsView extends EffectiveControls {
  /** Where the cooldown comes from: a moderator's override, the automatic cooldown, or COOLDOWN_MS. */
  cooldownSource: 'moderator' | 'auto' | 'config';
  /** COOLDOWN_MS of this container: what `"cooldownMs": null` goes back to. */
  defaultCooldownMs: number;
  version: number;
  updatedAt: number;
}

export interface LiveControlsOptions {
  store: ControlsStore;
  /** COOLDOWN_MS. */
  defaultCooldownMs: number;
  /** How often the shared store is read for changes made elsewhere (0 = never: the store is this process's). */
  pollMs: number;
  log: Logger;
  /** The automatic cooldown, when on (AUTO_COOLDOWN); used while no moderator set one. */
  autoCooldownMs?: () => number | null;
}

const FIELDS = ['cooldownMs', 'frozen', 'onlyColor'] as const;

/** Validates a POST /api/admin/controls body; throws invalid_request naming the field. */
export function parseControlsPatch(body: Record<string, unknown>): ControlsPatch {
  const unknown = Object.keys(body).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown.length) throw new ApiError('invalid_request', `unknown field "${unknown[0]}": give any of "cooldownMs", "frozen", "onlyColor"`);
  if (!FIELDS.some((k) => k in body)) throw new ApiError('invalid_request', 'give at least one of "cooldownMs", "frozen", "onlyColor"');
  const patch: ControlsPatch = {};
  const int = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
  if ('cooldownMs' in body) {
    if (body.cooldownMs !== null && !int(body.cooldownMs, MAX_COOLDOWN_MS)) {
      throw new ApiError('invalid_request', `"cooldownMs" must be an integer from 0 to ${MAX_COOLDOWN_MS} (ms), or null for the configured default`);
    }
    patch.cooldownMs = body.cooldownMs as number | null;
  }
  if ('frozen' in body) {
    if (typeof body.frozen !== 'boolean') throw new ApiError('invalid_request', '"frozen" must be true or false');
    patch.frozen = body.frozen;
  }
  if ('onlyColor' in body) {
    if (body.onlyColor !== null && !int(body.onlyColor, PALETTE.length - 1)) {
      throw new ApiError('invalid_request', `"onlyColor" must be a colour index from 0 to ${PALETTE.length - 1}, or null for every colour`);
    }
    patch.onlyColor = body.onlyColor as number | null;
  }
  return patch;
}

export const controlsMessage = (c: EffectiveControls) => JSON.stringify({ t: 'controls', cooldownMs: c.cooldownMs, frozen: c.frozen, onlyColor: c.onlyColor });

const same = (a: EffectiveControls, b: EffectiveControls) => a.cooldownMs === b.cooldownMs && a.frozen === b.frozen && a.onlyColor === b.onlyColor;

export class LiveControls {
  private stored: StoredControls = NO_CONTROLS;
  private effective: EffectiveControls;
  private loaded = false;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Bumped by every change made here, so a poll that read before it cannot put the old controls back. */
  private generation = 0;
  private readFailing = false;
  private readonly listeners: ((c: EffectiveControls) => void)[] = [];

  constructor(private readonly opts: LiveControlsOptions) {
    this.effective = this.derive();
  }

  /** Reads the controls once (in Redis mode a failure is retried by the poll), then keeps polling. */
  async start(): Promise<void> {
    await this.poll();
    if (this.opts.pollMs > 0) {
      this.timer = setInterval(() => void this.poll(), this.opts.pollMs);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** False until the controls were read once: until then nobody knows whether the canvas is frozen. */
  get ready(): boolean {
    return this.loaded;
  }

  get cooldownMs(): number {
    return this.effective.cooldownMs;
  }

  get frozen(): boolean {
    return this.effective.frozen;
  }

  get onlyColor(): number | null {
    return this.effective.onlyColor;
  }

  /** The {"t":"controls"} text message every socket gets on open and on every change. */
  get message(): string {
    return controlsMessage(this.effective);
  }

  view(): ControlsView {
    const s = this.stored;
    const source = s.cooldownMs !== null ? 'moderator' : this.opts.autoCooldownMs?.() != null ? 'auto' : 'config';
    return { ...this.effective, cooldownSource: source, defaultCooldownMs: this.opts.defaultCooldownMs, version: s.version, updatedAt: s.updatedAt };
  }

  /** Called with the new effective controls whenever they change, whoever changed them. */
  onChange(fn: (c: EffectiveControls) => void): void {
    this.listeners.push(fn);
  }

  /** Changes the controls (atomically in the store) and applies them here at once; the others follow by polling. */
  async update(patch: ControlsPatch, now = Date.now()): Promise<{ before: EffectiveControls; after: EffectiveControls; version: number }> {
    const { before, after } = await this.opts.store.update(patch, now);
    this.generation++;
    this.loaded = true;
    this.adopt(after);
    return { before: this.derive(before), after: this.derive(after), version: after.version };
  }

  /** Re-derives the effective controls, e.g. after the automatic cooldown moved. */
  refresh(): void {
    this.adopt(this.stored);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    const generation = this.generation;
    try {
      const s = await this.opts.store.read();
      if (generation !== this.generation) return;
      if (this.readFailing) this.opts.log.info('controls readable again');
      this.readFailing = false;
      if (this.loaded && s.version === 0 && this.stored.version > 0) {
        this.opts.log.warn({ lost: this.stored }, 'the store no longer has the controls (Redis lost its data?): back to the defaults');
      }
      this.loaded = true;
      this.adopt(s);
    } catch (err) {
      // Keep what we know: placements need the same store, so they are refused meanwhile anyway.
      if (!this.readFailing) this.opts.log.warn({ err: (err as Error).message }, 'cannot read the controls; keeping the last known');
      this.readFailing = true;
    } finally {
      this.polling = false;
    }
  }

  private adopt(s: StoredControls): void {
    // A store that lost its data and was changed since can be back at an old version: any difference counts.
    if (s.version !== this.stored.version || s.updatedAt !== this.stored.updatedAt) this.stored = s;
    const next = this.derive(this.stored);
    if (same(next, this.effective)) return;
    const before = this.effective;
    this.effective = next;
    this.opts.log.info({ before, after: next, version: this.stored.version }, 'controls changed');
    for (const fn of this.listeners) fn(next);
  }

  private derive(s: StoredControls = this.stored): EffectiveControls {
    const cooldownMs = s.cooldownMs ?? this.opts.autoCooldownMs?.() ?? this.opts.defaultCooldownMs;
    return { cooldownMs, frozen: s.frozen, onlyColor: s.onlyColor };
  }
}
