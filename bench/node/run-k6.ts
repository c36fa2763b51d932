// `npm run bench:k6 -- <put|listen|crowd> [k6 args…]`: finds k6, starts the box (or uses BASE_URL with
// its SESSION_SECRET), runs the scenario, writes bench/results/<scenario>-<time>.{json,html} plus the box's
// history backlog samples, and stops the box. Exits with k6's exit code (99 = a threshold failed).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { startCluster, type Cluster } from '../cluster.js';
import { REPO_ROOT } from '../cluster/container.js';
import { findK6, K6_INSTALL_HINT } from './find-k6.js';

export const SCENARIOS = ['put', 'listen', 'crowd'] as const;
export type Scenario = (typeof SCENARIOS)[number];
const STREAM_KEY = '{tessera:main}:placements';


/** Runs one scenario against baseUrl; `env` adds k6 settings (RATE, DURATION, LISTENERS…). */
export async function runK6(o: { k6: string; scenario: Scenario; baseUrl: string; secret: string; resultsDir: string; name: string; env?: Record<string, string>; args?: string[]; quiet?: boolean }): Promise<{ code: number; output: string }> {
  mkdirSync(o.resultsDir, { recursive: true });
  const env = {
    ...process.env,
    ...o.env,
    BASE_URL: o.baseUrl,
    SESSION_SECRET: o.secret,
    RESULTS_DIR: o.resultsDir,
    RESULT_NAME: o.name,
    // The HTML report without its live server (port -1), written when the run ends.
    K6_WEB_DASHBOARD: 'true',
    K6_WEB_DASHBOARD_PORT: '-1',
    K6_WEB_DASHBOARD_EXPORT: join(o.resultsDir, `${o.name}.html`),
    K6_NO_USAGE_REPORT: 'true',
  };
  const script = join(REPO_ROOT, 'bench', 'k6', `${o.scenario}.ts`);
  const child = spawn(o.k6, ['run', '--no-color', ...(o.args ?? []), script], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const tee = (d: Buffer, to: NodeJS.WriteStream) => {
    output += d.toString();
    if (!o.quiet) to.write(d);
  };
  child.stdout.on('data', (d) => tee(d, process.stdout));
  child.stderr.on('data', (d) => tee(d, process.stderr));
  // Ctrl-C or SIGTERM: k6 stops (and still writes its summary), then the caller cleans up.
  const stop = () => child.kill('SIGINT');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 130 : 1))));
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  return { code, output };
}

export interface BacklogSample {
  t: number;
  /** tessera_history_backlog_entries: placements not yet written to DynamoDB (every container reports the group's). */
  backlog: number;
  /** tessera_stream_entries */
  stream: number;
  /** Sum over containers of tessera_history_written_total. */
  written: number;
}

function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Samples the history backlog from the containers' /metrics every second (XLEN if the history is absent). */
export function sampleBacklog(cluster: Cluster): { stop(): Promise<BacklogSample[]> } {
  const redis = new Redis(cluster.redis.url, { maxRetriesPerRequest: 1 });
  const samples: BacklogSample[] = [];
  const t0 = Date.now();
  const sample = async () => {
    const texts = await Promise.all(cluster.containers.map((c) => fetch(`${c.url}/metrics`, { signal: AbortSignal.timeout(900) }).then((r) => r.text(), () => '')));
    const backlogs = texts.map((t) => gauge(t, 'tessera_history_backlog_entries')).filter((v): v is number => v !== undefined);
    const stream = texts.map((t) => gauge(t, 'tessera_stream_entries')).find((v) => v !== undefined) ?? (await redis.xlen(STREAM_KEY).catch(() => NaN));
    const written = texts.reduce((a, t) => a + (gauge(t, 'tessera_history_written_total') ?? 0), 0);
    samples.push({ t: Date.now() - t0, backlog: backlogs.length ? Math.max(...backlogs) : NaN, stream, written });
  };
  const timer = setInterval(() => void sample(), 1000);
  return {
    async stop() {
      clearInterval(timer);
      await sample();
      redis.disconnect();
      return samples;
    },
  };
}

async function main(): Promise<number> {
  const [scenario, ...args] = process.argv.slice(2);
  if (!SCENARIOS.includes(scenario as Scenario)) {
    console.error(`usage: npm run bench:k6 -- <${SCENARIOS.join('|')}> [k6 args…]\n  env: BASE_URL+SESSION_SECRET (an existing deployment; else a box is started), CONTAINERS (2), DYNAMO (1; 0 = no history writer), RATE, DURATION, USERS, LISTENERS, PLACERS…`);
    return 2;
  }
  const k6 = findK6(REPO_ROOT);
  if (!k6) {
    console.error(K6_INSTALL_HINT);
    return 2;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const name = `${scenario}-${stamp}`;
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  let cluster: Cluster | undefined;
  let running = false;
  // Outside the k6 run (starting, collecting), a signal stops the box and exits; during a start, exiting
  // is enough: the process-exit hook kills every child started so far.
  const onSignal = () => {
    if (running) return;
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  let baseUrl = process.env.BASE_URL;
  let secret = process.env.SESSION_SECRET ?? '';
  if (!baseUrl) {
    const containers = Number(process.env.CONTAINERS ?? 2);
    console.error(`bench:k6: starting the box (${containers} containers) …`);
    // DYNAMO=0: no DynamoDB Local and no history writer (on 2 shared cores its JVM costs ~0.8 core at 1,000 writes/s).
    cluster = await startCluster({ containers, dynamo: process.env.DYNAMO !== '0' });
    baseUrl = cluster.url;
    secret = cluster.secret;
    console.error(`bench:k6: box up at ${baseUrl}`);
  } else if (secret.length < 32) {
    console.error('bench:k6: with BASE_URL, set SESSION_SECRET to that deployment\'s secret (k6 mints the tokens)');
    return 2;
  }
  try {
    const backlog = cluster ? sampleBacklog(cluster) : undefined;
    console.error(`bench:k6: ${k6} run bench/k6/${scenario}.ts`);
    running = true;
    const { code } = await runK6({ k6, scenario: scenario as Scenario, baseUrl, secret, resultsDir, name, args });
    running = false;
    if (backlog) {
      // The writer may still be catching up: give it a few seconds, then report where the backlog ended.
      const until = Date.now() + 10_000;
      let samples = await backlog.stop();
      while ((samples.at(-1)?.backlog ?? 0) > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 1000));
        const more = sampleBacklog(cluster!);
        samples = [...samples, ...(await more.stop())];
      }
      const max = Math.max(0, ...samples.map((s) => s.backlog).filter(Number.isFinite));
      const last = samples.at(-1);
      writeFileSync(join(resultsDir, `${name}-backlog.json`), JSON.stringify({ everyMs: 1000, samples }, null, 1));
      console.log(`history backlog (unwritten placements): max ${max}, at the end ${last?.backlog}; written to DynamoDB: ${last?.written}; stream entries: ${last?.stream}`);
    }
    console.log(`results: bench/results/${name}.json, bench/results/${name}.html (k6 exit ${code})`);
    return code;
  } finally {
    await cluster?.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`bench:k6: ${(err as Error).stack ?? err}`);
      process.exit(1);
    },
  );
}
