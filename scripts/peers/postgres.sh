# Sourced by scripts/test.sh: makes sure a PostgreSQL server answers and
# exports CERTSTEWARD_PG_URL for the tests. In order:
#   1. CERTSTEWARD_PG_URL, when set and answering;
#   2. the machine's server on 127.0.0.1:5432 (trust auth, database `test`);
#   3. a throwaway cluster of our own on CERTSTEWARD_PG_PORT (default 54329),
#      installing Debian's postgresql first when initdb is missing.
# A server that cannot be reached or started stops the run with its name.

pg_answers() { # pg_answers URL
  node -e '
    const { Client } = require("pg");
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query("select 1")).then(() => c.end(), () => process.exit(1));
  ' "$1" >/dev/null 2>&1
}

start_private_pg() {
  local port="${CERTSTEWARD_PG_PORT:-54329}" dir pgbin
  dir="$(pwd)/.tmp/peers/pg"
  pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    echo "== installing PostgreSQL (Debian package postgresql)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  fi
  local url="postgres://postgres@127.0.0.1:$port/certs_test"
  if pg_answers "$url"; then export CERTSTEWARD_PG_URL="$url"; return 0; fi
  echo "== starting a private PostgreSQL on 127.0.0.1:$port ($dir)"
  rm -rf "$dir"; mkdir -p "$dir"; chown postgres:postgres "$dir" 2>/dev/null || true
  # initdb refuses to run as root: run the server as the postgres user when we are root.
  local as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$pgbin/initdb" -D "$dir/data" -A trust -U postgres --no-sync > "$dir/initdb.log" 2>&1 \
    || { echo "PostgreSQL: initdb failed:"; cat "$dir/initdb.log"; return 1; }
  "${as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off" start > /dev/null \
    || { echo "PostgreSQL: the server did not start:"; cat "$dir/server.log"; return 1; }
  node -e '
    const { Client } = require("pg");
    const c = new Client({ connectionString: process.argv[1] });
    c.connect().then(() => c.query("create database certs_test")).then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });
  ' "postgres://postgres@127.0.0.1:$port/postgres"
  export CERTSTEWARD_PG_URL="$url"
  # Stopped when the test run ends (scripts/test.sh calls stop_private_pg).
  PG_STARTED_DIR="$dir"
  PG_STOP=("${as[@]}" "$pgbin/pg_ctl" -D "$dir/data" stop -m fast)
}

stop_private_pg() {
  if [ -n "${PG_STARTED_DIR:-}" ]; then "${PG_STOP[@]}" > /dev/null 2>&1 || true; fi
}

if [ -n "${CERTSTEWARD_PG_URL:-}" ] && pg_answers "$CERTSTEWARD_PG_URL"; then
  :
elif pg_answers "postgres://postgres@127.0.0.1:5432/test"; then
  export CERTSTEWARD_PG_URL="postgres://postgres@127.0.0.1:5432/test"
else
  start_private_pg || { echo "FAILED: the PostgreSQL test peer could not be started (see above)"; exit 1; }
  pg_answers "$CERTSTEWARD_PG_URL" || { echo "FAILED: PostgreSQL at $CERTSTEWARD_PG_URL does not answer"; exit 1; }
fi
echo "== PostgreSQL: $CERTSTEWARD_PG_URL"
