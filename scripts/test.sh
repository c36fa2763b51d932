#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs every tap test, ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || { echo "0 passed, 1 failed"; exit 1; }
log=$(mktemp)
TESSERA_TEST_DIST=1 scripts/node node_modules/.bin/tap "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary=$(grep -E '^# \{ total: ' "$log" | tail -1)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); pass=${pass:-0}
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary"); fail=${fail:-0}
skip=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary"); skip=${skip:-0}
if [[ $status -ne 0 && $fail -eq 0 ]]; then fail=1; fi
rm -f "$log"
echo "$pass passed, $fail failed, $skip skipped"
exit $status
