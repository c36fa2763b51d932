// Runs the same test body against the embedded store and against a real redis-server.
import type { Test } from 'tap';
import { startRedis, type RedisServer } from './redis-server.js';

export interface Mode {
  name: 'embedded' | 'redis';
  /** Extra environment for a service in this mode. */
  env: Record<string, string>;
  redis?: RedisServer;
}

export function bothModes(t: Test, name: string, body: (t: Test, mode: Mode) => Promise<void>): void {
  t.test(`${name} [embedded]`, async (t) => body(t, { name: 'embedded', env: {} }));
  t.test(`${name} [redis]`, async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    await body(t, { name: 'redis', env: { REDIS_URL: redis.url }, redis });
  });
}
