// Runs an ops command (ops/<name>) as the runbook does, in its own process: the build in dist/ when
// TESSERA_TEST_DIST=1, else ops/<name>.ts through tap's TypeScript loader.
import { spawn } from 'node:child_process';

export interface OpsResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runOps(name: string, args: string[], env: Record<string, string | undefined>): Promise<OpsResult> {
  const dist = process.env.TESSERA_TEST_DIST === '1';
  const script = new URL(dist ? `../../../dist/ops/${name}.js` : `../../../ops/${name}.ts`, import.meta.url).pathname;
  const execArgv = dist ? [] : process.execArgv.filter((a) => !a.startsWith('--inspect'));
  const started = Date.now();
  const proc = spawn(process.execPath, [...execArgv, script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  // 'close', not 'exit': exit can come before the last stdout chunks were read.
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

/** The JSON summary an ops command prints last on stdout. */
export function summaryOf<T = Record<string, unknown>>(r: OpsResult): T {
  return JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as T;
}
