import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON logger per process; everything else takes a child of it. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'tessera', pid: process.pid } });
}
