#!/usr/bin/env bash
# The README's test command (`npm test`): installs what is missing, builds,
# starts the test peers (PostgreSQL; installs Pebble), type-checks, and runs every test (unit,
# adapters on real peers, CLI, package), then prints the plain
# summary line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

bash scripts/ensure-deps.sh
echo "== test peers"
# The trap first: a private cluster started before a later failure is stopped too.
trap 'stop_private_pg 2>/dev/null || true' EXIT
# shellcheck source=peers/postgres.sh
source scripts/peers/postgres.sh
# shellcheck source=peers/pebble.sh
source scripts/peers/pebble.sh

echo "== build"
npx tsup --silent
echo "== typecheck"
npx tsc --noEmit
echo "== tests"
mkdir -p .tmp
report=.tmp/vitest-report.json
rm -f "$report"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node scripts/summary.mjs "$report" || status=$?
exit "$status"
