#!/usr/bin/env bash
# Browser tests: build settle-server, then for every file in end2end/tests start it on a free
# loopback port against a throw-away SQLite database in development mode (fresh demo data: each
# file pays the demo policies its own way) and run that file with node:test, playwright-core
# driving Debian's Chromium. Exit code = 0 if every file passed.
#
# Usage: bash end2end/run.sh            (from anywhere)
# Env:   CARGO_TARGET_DIR   cargo target dir (default: $HOME/.cache/settle-target)
#        CHROMIUM_PATH      browser binary (default: /usr/bin/chromium, installed with apt if missing)
#        E2E_READY_TIMEOUT  seconds to wait for /readyz (default: 60)
#        E2E_ONLY           run only these test files, by name ("card_3ds invoice")
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_DIR/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/settle-target}"
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
export CHROMIUM_PATH
READY_TIMEOUT="${E2E_READY_TIMEOUT:-60}"
RESULTS_DIR="$E2E_DIR/test-results"
SERVER_LOG="$RESULTS_DIR/server.log"  # one per test file: test-results/server-<file>.log

log() { printf '[end2end] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    log "need root for: $*"
    return 1
  fi
}

# --- 1. Chromium (Debian's package; playwright-core never downloads a browser) -------------------
if [ ! -x "$CHROMIUM_PATH" ]; then
  if [ "$CHROMIUM_PATH" != /usr/bin/chromium ]; then
    log "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable"
    exit 1
  fi
  log "installing Debian's chromium"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
"$CHROMIUM_PATH" --version || { log "cannot run $CHROMIUM_PATH"; exit 1; }

# --- 2. node packages ----------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || { log "node is missing"; exit 1; }
command -v npm >/dev/null 2>&1 || { log "npm is missing"; exit 1; }
hidden_lock="$E2E_DIR/node_modules/.package-lock.json"
if [ ! -f "$hidden_lock" ] || [ ! -d "$E2E_DIR/node_modules/playwright-core" ] \
  || [ "$E2E_DIR/package-lock.json" -nt "$hidden_lock" ] \
  || [ "$E2E_DIR/package.json" -nt "$hidden_lock" ]; then
  log "npm ci"
  (cd "$E2E_DIR" && npm ci --no-audit --no-fund)
else
  log "node_modules up to date"
fi

# --- 3. the server -------------------------------------------------------------------------------
log "cargo build -p settle-server (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
(cd "$REPO_ROOT" && cargo build -p settle-server)
SERVER_BIN="$CARGO_TARGET_DIR/debug/settle-server"
[ -x "$SERVER_BIN" ] || { log "no server binary at $SERVER_BIN"; exit 1; }

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/settle-e2e.XXXXXX")"
mkdir -p "$RESULTS_DIR"
SERVER_PID=""
BASE_URL=""

# shellcheck disable=SC2317 # called from the EXIT trap
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do # up to 10 s for a graceful stop
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server did not stop on TERM; killing it"
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  local rc=$?
  stop_server
  rm -rf -- "$WORK_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_server_log() {
  log "---- last 100 lines of the server log ($SERVER_LOG) ----"
  tail -n 100 "$SERVER_LOG" >&2 || true
  log "---- end of server log ----"
}

# Starts a server on a free loopback port with a fresh database named after test file $1 (the
# demo data is loaded at start, so every file begins from the same demo world); sets SERVER_PID,
# BASE_URL and SERVER_LOG.
start_server() {
  local name="$1" port deadline
  port="$(node -e '
const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
')"
  [ -n "$port" ] || { log "could not pick a free port"; return 1; }
  BASE_URL="http://127.0.0.1:$port"
  SERVER_LOG="$RESULTS_DIR/server-$name.log"
  : >"$SERVER_LOG"
  log "starting settle-server on $BASE_URL for $name (log: $SERVER_LOG)"
  (
    cd "$REPO_ROOT"
    exec env \
      SETTLE_BIND="127.0.0.1:$port" \
      DATABASE_URL="sqlite://$WORK_DIR/$name.db?mode=rwc" \
      SETTLE_MODE=development \
      "$SERVER_BIN" serve
  ) </dev/null >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!

  # Bounded wait for GET /readyz -> 200.
  deadline=$((SECONDS + READY_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "settle-server exited before it was ready"
      show_server_log
      return 1
    fi
    if node -e '
const ac = new AbortController();
setTimeout(() => ac.abort(), 2000);
fetch(process.argv[1], { signal: ac.signal, redirect: "manual" })
  .then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));
' "$BASE_URL/readyz" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  log "settle-server did not answer 200 on /readyz within ${READY_TIMEOUT}s"
  show_server_log
  return 1
}

# --- 4. the tests: one fresh server per test file ------------------------------------------------
rm -rf -- "$E2E_DIR/screenshots"
rc=0
failed=()
for file in "$E2E_DIR"/tests/*.test.js; do
  name="$(basename "$file" .test.js)"
  if [ -n "${E2E_ONLY:-}" ] && [[ " $E2E_ONLY " != *" $name "* ]]; then
    continue
  fi
  start_server "$name" || exit 1
  set +e
  (cd "$E2E_DIR" && SETTLE_BASE_URL="$BASE_URL" node --test --test-concurrency=1 "tests/$name.test.js")
  file_rc=$?
  set -e
  if [ "$file_rc" -ne 0 ]; then
    rc=$file_rc
    failed+=("$name")
    log "$name failed (exit $file_rc)"
    show_server_log
  fi
  stop_server
done
if [ "$rc" -ne 0 ]; then
  log "browser tests failed: ${failed[*]}; screenshots in $E2E_DIR/screenshots"
else
  log "browser tests passed; screenshots in $E2E_DIR/screenshots"
fi
exit "$rc"
