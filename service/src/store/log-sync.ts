// When placements.log reaches the disk. A placement is acknowledged once its record is written to the OS
// (it then survives a crash of this process), and the log is fdatasync'ed about once a second off the
// event loop (so a power loss loses at most ~1 s): Redis's appendfsync everysec. One fsync per placement
// batch would put the disk's flush latency on every placement.
import { fdatasync } from 'node:fs';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';

const fdatasyncAsync = promisify(fdatasync);

export class LogSync {
  /** Bytes handed to the OS, and bytes a completed fdatasync covers. */
  private written = 0;
  private durable = 0;
  private running: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  /** Set while the last fdatasync failed: the disk may be dropping writes, so placements are refused. */
  failure: Error | undefined;

  constructor(
    private readonly fd: number,
    end: number,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.written = this.durable = end;
    this.timer = setInterval(() => this.sync().catch(() => {}), intervalMs);
    this.timer.unref();
  }

  wrote(end: number): void {
    this.written = end;
  }

  /** Resolves once everything written before the call is durable; rejects when fdatasync fails. */
  async sync(): Promise<void> {
    const target = this.written;
    while (this.durable < target) {
      this.running ??= this.flush().finally(() => (this.running = undefined));
      await this.running;
    }
  }

  private async flush(): Promise<void> {
    const target = this.written;
    const started = Date.now();
    try {
      await fdatasyncAsync(this.fd);
    } catch (err) {
      if (!this.failure) this.log.error({ err: (err as Error).message }, 'fdatasync of placements.log failed; refusing placements until it succeeds');
      this.failure = err as Error;
      throw err;
    }
    if (this.failure) this.log.warn('fdatasync of placements.log succeeds again');
    this.failure = undefined;
    this.durable = Math.max(this.durable, target);
    const ms = Date.now() - started;
    if (ms > 1000) this.log.warn({ ms }, 'fdatasync of placements.log is slow: a power loss may lose more than ~1 s of placements');
  }

  /** Stops the timer after a last sync; the caller closes the fd. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sync();
  }
}
