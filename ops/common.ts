// What both ops commands share: the service's own configuration (same environment variables as a
// container), the DynamoDB client, and exiting with one clear line on error.
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../service/src/config.js';
import { createDynamoClient } from '../service/src/history/dynamo.js';

export function opsConfig(env: Record<string, string | undefined> = process.env): Config {
  // Ops commands mint no sessions, but the service's parser insists on a secret whenever REDIS_URL is set.
  const config = loadConfig({ ...env, SESSION_SECRET: env.SESSION_SECRET || 'ops-commands-mint-no-sessions-0000000' });
  if (!config.dynamoTable) throw new ConfigError('DYNAMODB_TABLE must name the history table');
  return config;
}

export function opsDynamo(config: Config) {
  // The SDK's own retries (with backoff) are enough for a one-off command.
  return createDynamoClient({ endpoint: config.dynamoEndpoint, maxAttempts: 8, maxSockets: 16, requestTimeoutMs: 30_000 });
}

/** Epoch ms from an ISO-8601 time ("2026-01-16T12:00Z") or epoch milliseconds. */
export function parseTime(name: string, raw: string | undefined): number {
  if (!raw) throw new ConfigError(`--${name} is required (ISO-8601 time or epoch ms)`);
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms)) throw new ConfigError(`--${name} must be an ISO-8601 time or epoch ms, got "${raw}"`);
  return ms;
}

/** Runs `main` when this module is the command itself (not imported), and exits 2 on usage errors, 1 on failures. */
export function runIfMain(metaUrl: string, main: () => Promise<void>): void {
  if (!process.argv[1] || metaUrl !== pathToFileURL(process.argv[1]).href) return;
  main().then(
    () => exitAfterFlush(0),
    (err) => {
      const usage = err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
      console.error(`${usage ? 'usage error' : 'failed'}: ${(err as Error).message}`);
      exitAfterFlush(usage ? 2 : 1);
    },
  );
}

/** process.exit() drops stdout still queued for a pipe (an export's last lines): exit once both are flushed. */
function exitAfterFlush(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
