#!/usr/bin/env bash
# The README's main job (`npm run demo`): installs what is missing, builds,
# then runs the lifecycle demo (a simulated year of renewals on the local CA,
# kept in the SQLite file .demo/certsteward.db: run it again and it picks up
# where it left off; delete .demo/ to start over) and the inspection demo (a
# folder of certificates checked by the CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npx tsup --silent
node examples/lifecycle-year.mjs
echo
node examples/check-folder.mjs "$@"
