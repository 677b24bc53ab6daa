#!/usr/bin/env bash
# The README's main job (`npm run demo`): installs what is missing, builds,
# and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npx tsup --silent
node examples/check-folder.mjs "$@"
