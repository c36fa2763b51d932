#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs every tap test. Closing lines: the assertions
# passed/failed, todos and skips (scripts/tap-summary.mjs), then "N passed, M failed, K skipped" last.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || { echo "0 passed, 1 failed"; exit 1; }
k6=$(scripts/node -e 'import("./dist/bench/node/find-k6.js").then((m) => console.log(m.findK6(process.cwd()) ?? ""))')
if [[ -n $k6 ]]; then echo "test: the k6 smoke test runs with $k6"; else echo "test: NO k6 found (K6_BIN, PATH, ../shared/bin/k6): the k6 smoke test will be SKIPPED"; fi
rm -rf .tap/test-results
TESSERA_TEST_DIST=1 scripts/node node_modules/.bin/tap "$@"
status=$?
[[ -n $k6 ]] || echo "test: the k6 smoke test was SKIPPED (no k6)"
scripts/node scripts/tap-summary.mjs .tap/test-results "$status"
exit $status
