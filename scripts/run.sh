#!/usr/bin/env bash
# The canvas on this machine, embedded default (no Redis or AWS): installs and builds what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec scripts/node dist/service/src/main.js
