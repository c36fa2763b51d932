import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';
import { testEnv } from './support/service.js';

t.test('defaults', async (t) => {
  const c = loadConfig({ DATA_DIR: testEnv().DATA_DIR });
  t.equal(c.port, 8080);
  t.equal(c.width, 1000);
  t.equal(c.height, 1000);
  t.equal(c.cooldownMs, 300_000);
  t.equal(c.hiddenGraceMs, 60_000);
  t.equal(loadConfig({ DATA_DIR: c.dataDir, HIDDEN_GRACE_MS: '0' }).hiddenGraceMs, 0, 'HIDDEN_GRACE_MS=0: never pause');
  t.equal(c.redisUrl, undefined);
  t.ok(c.sessionSecret.length >= 32, 'embedded mode makes and keeps its own secret');
  t.same(loadConfig({ DATA_DIR: c.dataDir }).sessionSecret, c.sessionSecret, 'the same secret after a restart');
  t.ok(c.requestsPerMinute >= 2000 && c.sessionsPerMinute >= 30 && c.placementsPerMinute >= 30, 'a school class behind one NAT can play');
});

t.test('bad values are refused with a clear message', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'abc' }, /PORT must be an integer/],
    [{ PORT: '70000' }, /PORT must be between/],
    [{ CANVAS_WIDTH: '0' }, /CANVAS_WIDTH/],
    [{ COOLDOWN_MS: '-5' }, /COOLDOWN_MS/],
    [{ REDIS_URL: 'http://x' }, /REDIS_URL/],
    // The message never echoes the credentials a URL may carry.
    [{ REDIS_URL: 'https://:s3cret-token@cache:6379' }, /^REDIS_URL must start with redis:\/\/ or rediss:\/\/, got "https:\/\/<credentials>@cache:6379"$/],
    [{ REDIS_URL: 'redis://127.0.0.1:1', SESSION_SECRET: '' }, /SESSION_SECRET is required/],
    [{ SESSION_SECRET: 'short' }, /at least 32 bytes/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ BATCH_INTERVAL_MS: '100' }, /BATCH_INTERVAL_MS/],
    [{ HIDDEN_GRACE_MS: '-1' }, /HIDDEN_GRACE_MS must be between/],
  ];
  for (const [env, re] of cases) {
    t.throws(() => loadConfig({ DATA_DIR: testEnv().DATA_DIR, ...env }), re, JSON.stringify(env));
    try {
      loadConfig({ DATA_DIR: testEnv().DATA_DIR, ...env });
    } catch (err) {
      t.ok(err instanceof ConfigError, 'a ConfigError');
    }
  }
});
