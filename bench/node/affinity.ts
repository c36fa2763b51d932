// CPU pinning with taskset (util-linux): the watchers bench gives the server under test a core of its own.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

function taskset(args: string[]): string {
  const r = spawnSync('taskset', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`taskset: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`taskset ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Why pinning cannot be done here, or undefined when it can (≥ 2 cores and a working taskset). */
export function cannotPin(): string | undefined {
  if (cpus().length < 2) return `${cpus().length} core(s)`;
  try {
    affinity(process.pid);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The hex affinity mask of pid. */
export function affinity(pid: number): string {
  const m = /mask: ([0-9a-f]+)/.exec(taskset(['-p', String(pid)]));
  if (!m) throw new Error(`taskset -p ${pid}: no mask in its output`);
  return m[1];
}

/** Pins every thread of pid (threads started later inherit it) to the cores of list, e.g. "1" or "0,1". */
export function pin(pid: number, list: string): void {
  taskset(['-a', '-p', '-c', list, String(pid)]);
}

export function setAffinity(pid: number, mask: string): void {
  taskset(['-a', '-p', mask, String(pid)]);
}
