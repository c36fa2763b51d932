// The seq fence as the fault tests see it: each container's /readyz, and the environment the runbook's one-off
// ops task gets (the containers' own, as in the cloud).
import type { Box } from './box.js';

export interface ReadyzBody {
  ready: boolean;
  fenced?: { reason: string; since: number; redisSeq: number; highWater: number };
}

/** Every live container's /readyz: status and body (status 0 when it did not answer). */
export async function readyzAll(box: Box): Promise<{ name: string; status: number; body?: ReadyzBody }[]> {
  return Promise.all(
    box.live().map(async (c) => {
      try {
        const r = await fetch(`${c.url}/readyz`, { signal: AbortSignal.timeout(3000) });
        return { name: c.name, status: r.status, body: (await r.json()) as ReadyzBody };
      } catch {
        return { name: c.name, status: 0 };
      }
    }),
  );
}

/** True when every live container answers /readyz 503 because of the fence, with this reason. */
export async function allFenced(box: Box, reason: string): Promise<boolean> {
  return (await readyzAll(box)).every((r) => r.status === 503 && r.body?.fenced?.reason === reason);
}

/** What `node dist/ops/rebuild.js` needs to reach this box's Redis and history. */
export function opsEnv(box: Box): Record<string, string> {
  return {
    REDIS_URL: box.cluster.redis.url,
    CANVAS_WIDTH: String(box.width),
    CANVAS_HEIGHT: String(box.height),
    DYNAMODB_TABLE: box.table,
    DYNAMODB_ENDPOINT: box.cluster.dynamo!.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    ...(box.env.HISTORY_BACKLOG_MAX ? { HISTORY_BACKLOG_MAX: box.env.HISTORY_BACKLOG_MAX } : {}),
  };
}
