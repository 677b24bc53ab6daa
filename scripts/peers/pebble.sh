# Sourced by scripts/test.sh: the ACME tests start their own Pebble and
# pebble-challtestsrv processes (test/support/pebble.ts, on free loopback
# ports, one set per test file); this makes sure the Debian package that ships
# both is installed, and stops the run naming it when it cannot be.
if ! command -v pebble >/dev/null 2>&1 || ! command -v pebble-challtestsrv >/dev/null 2>&1; then
  echo "== installing Pebble (Debian package pebble)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pebble >/dev/null; } \
    || { echo "FAILED: the Pebble test peer (Debian package pebble) could not be installed"; exit 1; }
fi
command -v pebble >/dev/null 2>&1 || { echo "FAILED: pebble is not on PATH after installing it"; exit 1; }
echo "== Pebble: $(command -v pebble), $(command -v pebble-challtestsrv)"
