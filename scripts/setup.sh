#!/usr/bin/env bash
# Installs what npm cannot (with apt-get, only when missing), then the npm dependencies and the build.
# Usage: scripts/setup.sh [--test]   (--test adds the test-only system packages)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
if [[ "${1:-}" == "--test" ]]; then
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v haproxy >/dev/null || need+=(haproxy)
  command -v java >/dev/null || need+=(default-jre-headless)
  [[ -x /usr/bin/chromium ]] || need+=(chromium)
fi
if ((${#need[@]})); then
  echo "setup: installing ${need[*]} with apt-get"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Node 24 with native uWebSockets.js: the host's own node when it fits, else fetched once (scripts/node).
echo "setup: runtime: $(scripts/node --info)"
scripts/node --which >/dev/null

# Reinstall when the lockfile changed since the last install.
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: building"
npm run --silent build
