// One Tessera container of the box: `node dist/service/src/main.js` with its own port and DATA_DIR,
// configured like a Fargate task behind the ALB (one trusted proxy hop).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from './process.js';
import { freePort, httpStatus } from './ports.js';

/** The compiled service entry point (`npm run build`), found from the repo root. */
export function serviceMain(root: string): string {
  return join(root, 'dist/service/src/main.js');
}

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/dist\/$/, '/');

export interface ContainerOptions {
  index: number;
  dir: string;
  root: string;
  env: Record<string, string>;
  port?: number;
  /** Extra node flags before the entry point (e.g. --cpu-prof, which NODE_OPTIONS does not take). */
  nodeArgs?: string[];
}

export class Container {
  readonly process: ManagedProcess;
  private constructor(
    readonly index: number,
    readonly port: number,
    readonly url: string,
    proc: ManagedProcess,
  ) {
    this.process = proc;
  }

  static async create(o: ContainerOptions): Promise<Container> {
    const port = o.port ?? (await freePort());
    const dataDir = join(o.dir, `container-${o.index}`);
    mkdirSync(dataDir, { recursive: true });
    const url = `http://127.0.0.1:${port}`;
    const proc = new ManagedProcess({
      name: `container-${o.index}`,
      command: process.execPath,
      args: [...(o.nodeArgs ?? []), serviceMain(o.root)],
      cwd: o.root,
      env: { ...baseEnv(), ...o.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir },
      ready: async () => (await httpStatus(`${url}/readyz`)) === 200,
      readyTimeoutMs: 30_000,
    });
    return new Container(o.index, port, url, proc);
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  start(): Promise<void> {
    return this.process.start();
  }

  /** Sends the signal (default SIGKILL: a crashed task) and waits for the exit. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.process.kill(signal);
  }

  /** A deploy's step: SIGTERM (the service drains), wait for the exit, start again on the same port. */
  restart(): Promise<void> {
    return this.process.restart();
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

/** Only what a container needs from our environment: no cloud credentials or test-runner NODE_OPTIONS leak in. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG'];
  const env: Record<string, string> = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return env;
}
