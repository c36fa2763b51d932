// One log line per incident, not per retry: the first failure, a reminder at most once a minute, the recovery.
import type { Logger } from '../log.js';

export class FailureStreak {
  private since = 0;
  private failures = 0;
  private lastLogged = 0;

  constructor(
    private readonly log: Logger,
    private readonly what: string,
    private readonly repeatMs = 60_000,
  ) {}

  get failing(): boolean {
    return this.failures > 0;
  }

  fail(err: unknown, context: Record<string, unknown> = {}): void {
    const now = Date.now();
    this.failures++;
    if (this.failures === 1) {
      this.since = now;
      this.lastLogged = now;
      this.log.warn({ err: message(err), ...context }, `${this.what} failed; retrying`);
    } else if (now - this.lastLogged >= this.repeatMs) {
      this.lastLogged = now;
      this.log.warn({ err: message(err), failures: this.failures, failingForMs: now - this.since, ...context }, `${this.what} still failing`);
    }
  }

  ok(context: Record<string, unknown> = {}): void {
    if (this.failures === 0) return;
    this.log.info({ failures: this.failures, failedForMs: Date.now() - this.since, ...context }, `${this.what} recovered`);
    this.failures = 0;
  }
}

function message(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
