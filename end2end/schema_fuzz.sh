#!/usr/bin/env bash
# Schema-driven fuzz: builds settle-server, starts it on a free loopback port against a
# throw-away SQLite database with the demo data, and runs schemathesis (pinned, from PyPI, in a
# venv under $HOME/.cache) against its /openapi.json with a demo merchant's bearer token,
# bounded per operation and in time. Fails on any 5xx (the check `not_a_server_error`).
#
# Usage: bash end2end/schema_fuzz.sh        (from anywhere)
# Env:   CARGO_TARGET_DIR       cargo target dir (default: $HOME/.cache/settle-target)
#        SCHEMA_FUZZ_EXAMPLES   test cases per operation and phase (default: 10)
#        SCHEMA_FUZZ_SEED       schemathesis seed (default: 1, so a run is repeatable)
#        SCHEMA_FUZZ_TIMEOUT    seconds the whole schemathesis run may take (default: 900)
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_DIR/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/settle-target}"
SCHEMATHESIS_VERSION="4.32.5"
VENV="$HOME/.cache/settle-schemathesis"
EXAMPLES="${SCHEMA_FUZZ_EXAMPLES:-10}"
SEED="${SCHEMA_FUZZ_SEED:-1}"
FUZZ_TIMEOUT="${SCHEMA_FUZZ_TIMEOUT:-900}"
RESULTS_DIR="$E2E_DIR/test-results"
SERVER_LOG="$RESULTS_DIR/server-schema-fuzz.log"

log() { printf '[schema-fuzz] %s\n' "$*" >&2; }

# --- 1. schemathesis in its own venv --------------------------------------------------------------
command -v python3 >/dev/null 2>&1 || { log "python3 is missing"; exit 1; }
if [ ! -x "$VENV/bin/st" ] || [ "$("$VENV/bin/st" --version 2>/dev/null)" != "st, version $SCHEMATHESIS_VERSION" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    log "installing python3-venv"
    if [ "$(id -u)" -eq 0 ]; then
      env DEBIAN_FRONTEND=noninteractive apt-get update
      env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
    else
      sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update
      sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
    fi
  fi
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf -- "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$VENV/bin/st" --version

# --- 2. the server ----------------------------------------------------------------------------------
log "cargo build -p settle-server (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
(cd "$REPO_ROOT" && cargo build -p settle-server)
SERVER_BIN="$CARGO_TARGET_DIR/debug/settle-server"
[ -x "$SERVER_BIN" ] || { log "no server binary at $SERVER_BIN"; exit 1; }

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/settle-fuzz.XXXXXX")"
mkdir -p "$RESULTS_DIR"
SERVER_PID=""

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf -- "$WORK_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE_URL="http://127.0.0.1:$PORT"
log "starting settle-server on $BASE_URL (log: $SERVER_LOG)"
(
  cd "$WORK_DIR"
  exec env \
    SETTLE_BIND="127.0.0.1:$PORT" \
    DATABASE_URL="sqlite://$WORK_DIR/fuzz.db?mode=rwc" \
    SETTLE_MODE=development \
    "$SERVER_BIN" serve
) </dev/null >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

# Python's standard library does the HTTP here, so nothing else needs installing.
http() {
  "$VENV/bin/python" - "$@" <<'PY'
import sys, urllib.request, urllib.parse, json
kind, url = sys.argv[1], sys.argv[2]
try:
    if kind == "ready":
        with urllib.request.urlopen(url, timeout=2) as r:
            sys.exit(0 if r.status == 200 else 1)
    form = urllib.parse.urlencode({
        "grant_type": "password", "client_id": "invoice-system-client",
        "username": "api@demo-insurer.test", "password": "settle-merchant-api",
    }).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=form), timeout=10) as r:
        print(json.load(r)["access_token"])
except Exception as e:
    print(e, file=sys.stderr)
    sys.exit(1)
PY
}

deadline=$((SECONDS + 60))
until http ready "$BASE_URL/readyz" 2>/dev/null; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
    log "settle-server did not get ready; last lines of its log:"
    tail -n 50 "$SERVER_LOG" >&2 || true
    exit 1
  fi
  sleep 0.5
done

# The demo merchant's API login (README, "Demo data"): the token reaches the merchant's routes.
TOKEN="$(http token "$BASE_URL/oauth/token")"
[ -n "$TOKEN" ] || { log "no token for the demo merchant"; exit 1; }

# --- 3. the fuzz ------------------------------------------------------------------------------------
# One worker: with two, Python 3.11's AST module can race inside hypothesis ("AST constructor
# recursion depth mismatch"), an error of the tool, not of the server.
log "schemathesis: $EXAMPLES examples per operation, seed $SEED, at most ${FUZZ_TIMEOUT}s"
set +e
(
  cd "$WORK_DIR"
  timeout "$FUZZ_TIMEOUT" "$VENV/bin/st" run "$BASE_URL/openapi.json" \
    --checks not_a_server_error \
    --phases examples,coverage,fuzzing \
    --max-examples "$EXAMPLES" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 20 \
    --max-redirects 0 \
    --generation-database none \
    --header "Authorization: Bearer $TOKEN" \
    --report junit --report-junit-path "$RESULTS_DIR/schema-fuzz.xml" \
    --no-color
)
rc=$?
set -e
if [ "$rc" -eq 124 ]; then
  log "schemathesis did not finish within ${FUZZ_TIMEOUT}s"
fi
if [ "$rc" -ne 0 ]; then
  log "server errors (5xx) in its log:"
  grep -E 'status=5[0-9][0-9]|panicked' "$SERVER_LOG" | tail -n 40 >&2 || true
fi
exit "$rc"
