import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseModerators, type Moderator } from './moderation/moderators.js';

/** Every setting of a container, parsed and validated once at start. */
export interface Config {
  port: number;
  host: string;
  width: number;
  height: number;
  cooldownMs: number;
  /** AUTO_COOLDOWN=1: the cooldown follows the number of active users (auto-cooldown.ts); undefined = off. */
  autoCooldown: { refUsers: number; minMs: number; maxMs: number } | undefined;
  canvasId: string;
  redisUrl: string | undefined;
  redisCommandTimeoutMs: number;
  sessionSecret: Buffer;
  sessionSecretPrevious: Buffer | undefined;
  sessionTtlS: number;
  /** Leading zero bits a new session's proof-of-work needs (pow/challenge.ts); 0 = no challenge. */
  powDifficulty: number;
  powTtlS: number;
  /** A session this young may not place yet (its issue time is expiresAt − SESSION_TTL_S); 0 = off. */
  sessionWarmupMs: number;
  /** Set together: new sessions also need a captcha token the provider's siteverify accepts (http/captcha.ts). */
  captcha: { url: string; secret: string; timeoutMs: number } | undefined;
  dataDir: string;
  /** How often the embedded store rewrites its board snapshot (when the board changed). */
  snapshotIntervalMs: number;
  logLevel: string;
  batchIntervalMs: number;
  /** Frames/s this container sends to all its watchers together before it stretches the interval. */
  fanoutFrameBudget: number;
  frameIntervalMaxMs: number;
  streamRetentionMs: number;
  allowedOrigins: string[];
  trustedProxyHops: number;
  /** Per-network budgets per minute, fleet-wide (limits/): fine prefix (IPv4 address, IPv6 /64); 0 = off. */
  sessionsPerMinute: number;
  requestsPerMinute: number;
  placementsPerMinute: number;
  socketsPerMinute: number;
  resumesPerMinute: number;
  /** The coarse prefix (IPv4 /24, IPv6 /48) gets this many times each fine budget; 0 = no coarse budgets. */
  rateLimitCoarseFactor: number;
  wsMessagesPerSecond: number;
  wsMaxBackpressure: number;
  /** Sockets one network (network-prefix.ts fine prefix) may hold open on this container (0 = no cap). */
  wsMaxPerNetwork: number;
  /** Bytes queued for all sockets of this container together; beyond it the worst readers are closed (0 = no cap). */
  wsTotalBufferedMax: number;
  /** ?since= older than this many seconds of placements gets a reset without touching the store (0 = no window). */
  resumeWindowS: number;
  /** How long a browser tab stays hidden before its client closes the socket (0 = never); told via /api/config. */
  hiddenGraceMs: number;
  shutdownDelayMs: number;
  dynamoTable: string | undefined;
  dynamoEndpoint: string | undefined;
  historyBacklogMax: number;
  /** A history entry unacknowledged this long is presumed lost with its container and claimed by another. */
  historyClaimIdleMs: number;
  /** BatchWriteItem calls one container keeps in flight. */
  historyWriteConcurrency: number;
  /** How often the placements stream is trimmed (and the backlog gauges sampled). */
  streamTrimIntervalMs: number;
  /** After the seq fence stops placements, how long until a container restores Redis's lost tail from the history (0 = only ops:rebuild). */
  autoRestoreDelayMs: number;
  adminToken: string | undefined;
  /** MODERATORS (name + token hash) plus ADMIN_TOKEN as the moderator "admin"; empty = moderation off. */
  moderators: Moderator[];
  /** How long the moderation log keeps an entry in Redis (0 = forever); the embedded file is never trimmed. */
  modlogRetentionDays: number;
  /** History placements a rollback job reads per page (and checkpoints after). */
  rollbackPageSize: number;
  staticDir: string;
  /** How often CloudWatch EMF metric lines go to stdout (0 = never). */
  emfIntervalMs: number;
  /** Time travel (timetravel/): a keyframe at least this often while placements come (0 = not by time). */
  keyframeIntervalMs: number;
  /** … and after this many placements (0 = not by count). Both 0: no keyframes are written. */
  keyframeEvery: number;
  /** Redis mode: the DynamoDB table of keyframes (default <DYNAMODB_TABLE>-keyframes); unset = no time travel. */
  keyframeTable: string | undefined;
  /** Community projects (projects/): template size cap, canvas-wide count cap, Web Push alerts. */
  projects: ProjectsConfig;
}

export interface ProjectsConfig {
  /** Width × height of a project's PNG, at most. */
  maxPixels: number;
  /** Visible projects on one canvas, at most. */
  maxCount: number;
  /** Set all three or none: without them damage alerts are off (503 alerts_disabled). */
  vapid: { publicKey: string; privateKey: string; subject: string } | undefined;
  /** Origins a push subscription's endpoint may have (the server POSTs there: no arbitrary URLs). */
  pushOrigins: string[];
  /** One watcher gets at most one alert per this long, fleet-wide. */
  alertIntervalMs: number;
}

/** The push services of Chrome/Edge (FCM, WNS), Firefox and Safari. */
const DEFAULT_PUSH_ORIGINS = 'https://fcm.googleapis.com,https://updates.push.services.mozilla.com,https://*.push.apple.com,https://*.notify.windows.com';

function projectsConfig(env: Env): ProjectsConfig {
  const pub = env.VAPID_PUBLIC_KEY || undefined;
  const priv = env.VAPID_PRIVATE_KEY || undefined;
  const subject = env.VAPID_SUBJECT || undefined;
  if ((pub === undefined) !== (priv === undefined) || (pub === undefined) !== (subject === undefined)) {
    throw new ConfigError('VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT must be set together (or none)');
  }
  // web-push's own checks: a P-256 point (65 bytes) and scalar (32 bytes), base64url; a mailto: or https: subject.
  if (pub && Buffer.from(pub, 'base64url').length !== 65) throw new ConfigError('VAPID_PUBLIC_KEY must be 65 bytes, base64url (npx web-push generate-vapid-keys)');
  if (priv && Buffer.from(priv, 'base64url').length !== 32) throw new ConfigError('VAPID_PRIVATE_KEY must be 32 bytes, base64url');
  if (subject && !/^(mailto:|https:\/\/)\S+$/.test(subject)) throw new ConfigError(`VAPID_SUBJECT must be a mailto: or https: URL, got "${subject}"`);
  const pushOrigins = (env.PUSH_ALLOWED_ORIGINS || DEFAULT_PUSH_ORIGINS).split(',').map((s) => s.trim()).filter(Boolean);
  for (const o of pushOrigins) {
    if (!/^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d+)?$/.test(o)) throw new ConfigError(`PUSH_ALLOWED_ORIGINS entries must be origins like https://push.example.com or https://*.example.com, got "${o}"`);
  }
  return {
    maxPixels: int(env, 'PROJECT_MAX_PIXELS', 65_536, 1, 4_194_304),
    maxCount: int(env, 'PROJECT_MAX_COUNT', 5000, 1, 1_000_000),
    vapid: pub && priv && subject ? { publicKey: pub, privateKey: priv, subject } : undefined,
    pushOrigins,
    alertIntervalMs: int(env, 'PROJECT_ALERT_INTERVAL_MS', 600_000, 1000, 86_400_000),
  };
}

export class ConfigError extends Error {
  readonly code = 'config_invalid';
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const v = Number(raw);
  if (v < min || v > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${v}`);
  return v;
}

function secret(name: string, raw: string | undefined): Buffer | undefined {
  if (raw === undefined || raw === '') return undefined;
  const buf = Buffer.from(raw, 'utf8');
  if (buf.length < 32) throw new ConfigError(`${name} must be at least 32 bytes, got ${buf.length}`);
  return buf;
}

/** The embedded default keeps its own secret so sessions survive a restart without any setup. */
function embeddedSecret(dataDir: string): Buffer {
  const file = join(dataDir, 'session-secret');
  mkdirSync(dataDir, { recursive: true });
  try {
    return secret('DATA_DIR/session-secret', readFileSync(file, 'utf8').trim())!;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const fresh = randomBytes(32).toString('base64url');
    writeFileSync(file, fresh + '\n', { mode: 0o600 });
    return Buffer.from(fresh, 'utf8');
  }
}

/** dist/client beside the compiled service, also when the service runs from its TypeScript sources. */
function defaultStaticDir(): string {
  const here = new URL('.', import.meta.url).pathname;
  return /[\\/]dist[\\/]service[\\/]src[\\/]$/.test(here) ? resolve(here, '../../client') : resolve(here, '../../dist/client');
}

export function loadConfig(env: Env = process.env): Config {
  const redisUrl = env.REDIS_URL || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    // Never echo a password the URL may carry (redis://:<token>@host).
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got "${redisUrl.replace(/\/\/[^@/]*@/, '//<credentials>@')}"`);
  }
  const dataDir = resolve(env.DATA_DIR || './data');
  let sessionSecret = secret('SESSION_SECRET', env.SESSION_SECRET);
  if (!sessionSecret) {
    if (redisUrl) throw new ConfigError('SESSION_SECRET is required with REDIS_URL (≥ 32 bytes, the same on every container)');
    sessionSecret = embeddedSecret(dataDir);
  }
  const canvasId = env.CANVAS_ID || 'main';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(canvasId)) throw new ConfigError(`CANVAS_ID must be 1-32 of [A-Za-z0-9_-], got "${canvasId}"`);
  const logLevel = env.LOG_LEVEL || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of fatal,error,warn,info,debug,trace,silent, got "${logLevel}"`);
  }
  const width = int(env, 'CANVAS_WIDTH', 1000, 1, 16384);
  const height = int(env, 'CANVAS_HEIGHT', 1000, 1, 16384);
  // Frame entries pack pixelIndex*16+colour into a u32.
  if (width * height > 2 ** 28) throw new ConfigError('CANVAS_WIDTH × CANVAS_HEIGHT must be at most 2^28 pixels');
  const adminToken = env.ADMIN_TOKEN || undefined;
  if (adminToken && adminToken.length < 16) throw new ConfigError('ADMIN_TOKEN must be at least 16 characters');
  let moderators: Moderator[];
  try {
    moderators = parseModerators(env.MODERATORS, adminToken);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const autoOn = env.AUTO_COOLDOWN || '0';
  if (autoOn !== '0' && autoOn !== '1') throw new ConfigError(`AUTO_COOLDOWN must be 0 or 1, got "${autoOn}"`);
  const autoCooldown = {
    refUsers: int(env, 'AUTO_COOLDOWN_REF_USERS', 1000, 1, 100_000_000),
    minMs: int(env, 'AUTO_COOLDOWN_MIN_MS', 30_000, 0, 86_400_000),
    maxMs: int(env, 'AUTO_COOLDOWN_MAX_MS', 900_000, 0, 86_400_000),
  };
  if (autoCooldown.minMs > autoCooldown.maxMs) throw new ConfigError(`AUTO_COOLDOWN_MIN_MS (${autoCooldown.minMs}) must not be above AUTO_COOLDOWN_MAX_MS (${autoCooldown.maxMs})`);
  const captchaUrl = env.CAPTCHA_VERIFY_URL || undefined;
  const captchaSecret = env.CAPTCHA_SECRET || undefined;
  if (!captchaUrl !== !captchaSecret) throw new ConfigError('CAPTCHA_VERIFY_URL and CAPTCHA_SECRET must be set together (or neither)');
  if (captchaUrl && !/^https?:\/\/[^\s]+$/.test(captchaUrl)) throw new ConfigError(`CAPTCHA_VERIFY_URL must be an http(s) URL, got "${captchaUrl}"`);
  const emfIntervalMs = int(env, 'EMF_INTERVAL_MS', 60_000, 0, 3_600_000);
  if (emfIntervalMs > 0 && emfIntervalMs < 1000) throw new ConfigError(`EMF_INTERVAL_MS must be 0 (off) or between 1000 and 3600000, got ${emfIntervalMs}`);
  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '0.0.0.0',
    width,
    height,
    cooldownMs: int(env, 'COOLDOWN_MS', 300_000, 0, 86_400_000),
    autoCooldown: autoOn === '1' ? autoCooldown : undefined,
    canvasId,
    redisUrl,
    redisCommandTimeoutMs: int(env, 'REDIS_COMMAND_TIMEOUT_MS', 2000, 50, 60_000),
    sessionSecret,
    sessionSecretPrevious: secret('SESSION_SECRET_PREVIOUS', env.SESSION_SECRET_PREVIOUS),
    sessionTtlS: int(env, 'SESSION_TTL_S', 30 * 86_400, 60, 365 * 86_400),
    // 16 bits: 65 536 SHA-256 on average, ~0.7 s in desktop Chromium, ~2 s on a phone (docs/api.md).
    powDifficulty: int(env, 'POW_DIFFICULTY', 16, 0, 32),
    powTtlS: int(env, 'POW_TTL_S', 120, 10, 3600),
    sessionWarmupMs: int(env, 'SESSION_WARMUP_MS', 0, 0, 86_400_000),
    captcha: captchaUrl && captchaSecret ? { url: captchaUrl, secret: captchaSecret, timeoutMs: int(env, 'CAPTCHA_TIMEOUT_MS', 5000, 100, 60_000) } : undefined,
    dataDir,
    snapshotIntervalMs: int(env, 'SNAPSHOT_INTERVAL_MS', 5000, 100, 600_000),
    logLevel,
    batchIntervalMs: int(env, 'BATCH_INTERVAL_MS', 50, 1, 50),
    // Measured: `npm run bench -- --only watchers` (bench/RESULTS.md); 0 = always BATCH_INTERVAL_MS.
    fanoutFrameBudget: int(env, 'FANOUT_FRAME_BUDGET', 40_000, 0, 10_000_000),
    frameIntervalMaxMs: int(env, 'FRAME_INTERVAL_MAX_MS', 1000, 50, 10_000),
    streamRetentionMs: int(env, 'STREAM_RETENTION_MS', 600_000, 1000, 86_400_000),
    allowedOrigins: (env.ALLOWED_ORIGINS || '').split(',').map((s) => s.trim()).filter(Boolean),
    trustedProxyHops: int(env, 'TRUSTED_PROXY_HOPS', 0, 0, 10),
    sessionsPerMinute: int(env, 'RATE_LIMIT_SESSIONS_PER_MIN', 60, 0, 1_000_000),
    requestsPerMinute: int(env, 'RATE_LIMIT_REQUESTS_PER_MIN', 6000, 0, 100_000_000),
    placementsPerMinute: int(env, 'RATE_LIMIT_PLACEMENTS_PER_MIN', 60, 0, 1_000_000),
    socketsPerMinute: int(env, 'RATE_LIMIT_SOCKETS_PER_MIN', 300, 0, 1_000_000),
    resumesPerMinute: int(env, 'RATE_LIMIT_RESUMES_PER_MIN', 120, 0, 1_000_000),
    rateLimitCoarseFactor: int(env, 'RATE_LIMIT_COARSE_FACTOR', 8, 0, 10_000),
    wsMessagesPerSecond: int(env, 'WS_MESSAGES_PER_SECOND', 20, 1, 10_000),
    wsMaxBackpressure: int(env, 'WS_MAX_BACKPRESSURE', 256 * 1024, 16 * 1024, 64 << 20),
    // Per fine prefix (an IPv4 address, an IPv6 /64): a school behind one NAT address shares it.
    wsMaxPerNetwork: int(env, 'WS_MAX_PER_NETWORK', 200, 0, 1_000_000),
    wsTotalBufferedMax: int(env, 'WS_TOTAL_BUFFERED_MAX', 256 * 2 ** 20, 0, 64 * 2 ** 30),
    resumeWindowS: int(env, 'RESUME_WINDOW_S', 60, 0, 900),
    hiddenGraceMs: int(env, 'HIDDEN_GRACE_MS', 60_000, 0, 86_400_000),
    shutdownDelayMs: int(env, 'SHUTDOWN_DELAY_MS', 2000, 0, 60_000),
    dynamoTable: env.DYNAMODB_TABLE || undefined,
    dynamoEndpoint: env.DYNAMODB_ENDPOINT || undefined,
    historyBacklogMax: int(env, 'HISTORY_BACKLOG_MAX', 5_400_000, 0, 1_000_000_000),
    historyClaimIdleMs: int(env, 'HISTORY_CLAIM_IDLE_MS', 30_000, 1000, 3_600_000),
    historyWriteConcurrency: int(env, 'HISTORY_WRITE_CONCURRENCY', 8, 1, 64),
    streamTrimIntervalMs: int(env, 'STREAM_TRIM_INTERVAL_MS', 5000, 100, 600_000),
    autoRestoreDelayMs: int(env, 'AUTO_RESTORE_DELAY_MS', 10_000, 0, 3_600_000),
    adminToken,
    moderators,
    modlogRetentionDays: int(env, 'MODLOG_RETENTION_DAYS', 400, 0, 36_500),
    rollbackPageSize: int(env, 'ROLLBACK_PAGE_SIZE', 1000, 10, 100_000),
    staticDir: resolve(env.STATIC_DIR || defaultStaticDir()),
    emfIntervalMs,
    keyframeIntervalMs: int(env, 'KEYFRAME_INTERVAL_MS', 300_000, 0, 86_400_000),
    keyframeEvery: int(env, 'KEYFRAME_EVERY', 50_000, 0, 10_000_000),
    keyframeTable: env.KEYFRAME_TABLE || (env.DYNAMODB_TABLE ? `${env.DYNAMODB_TABLE}-keyframes` : undefined),
    projects: projectsConfig(env),
  };
}
