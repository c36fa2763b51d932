// Where the k6 binary is: $K6_BIN, then PATH, then ../shared/bin/k6 next to the repo (this workplace's build).
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The k6 to run, or null when there is none; `root` is the repo root. */
export function findK6(root: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.K6_BIN) return executable(env.K6_BIN) ? resolve(env.K6_BIN) : null;
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const p = join(dir, 'k6');
    if (executable(p)) return p;
  }
  const shared = resolve(root, '..', 'shared', 'bin', 'k6');
  return executable(shared) ? shared : null;
}

export const K6_INSTALL_HINT = `k6 was not found (looked at $K6_BIN, on PATH and at ../shared/bin/k6).
Install k6 (any v1.x), then run again:
  Debian/Ubuntu: add Grafana's k6 apt repository, then  sudo apt-get install k6
  macOS:         brew install k6
  otherwise:     a release binary from k6's installation guide (grafana.com/docs/k6/latest/set-up/install-k6/)
and put it on PATH, or point K6_BIN at it:  K6_BIN=/path/to/k6 npm run bench:k6 -- put`;
