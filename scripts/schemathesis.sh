#!/usr/bin/env bash
# The OpenAPI document is the contract (issue 14): schemathesis, a fuzzer nobody here wrote, reads /openapi.json
# from the real binary and checks that every answer is one the document declares — statuses, media types, bodies,
# headers, required parameters, unknown fields refused, valid data accepted, undeclared methods answered 405.
#
# Starts `comanda serve` on the embedded default (fresh data directory, a free loopback port, bcrypt cost 4 so
# sign-ups are cheap), seeds it through the HTTP API (scripts/schemathesis_seed.py: an owner with TOTP, a venue, a
# table, a menu item and a guest order), then runs every check in every phase with the owner's bearer token, bounded
# so the step stays under three minutes on two cores. Any failure fails the test command, but one: a "schema-valid
# request rejected" whose answer is the card-data refusal and whose request, by the hooks' own check, really held a
# card-like number (the fuzzer writes one now and then; scripts/schemathesis_hooks.py, `filter_failure`).
# SCHEMATHESIS_SEED matters only without --generation-deterministic (the CI run is deterministic, bounded by time).
#
# Installs schemathesis into .tools/schemathesis (git-ignored) on first use. SCHEMATHESIS_MAX_EXAMPLES and
# SCHEMATHESIS_MAX_TIME change the bounds; SCHEMATHESIS_TARGET_BIN runs another binary (not `COMANDA_*`: the server reads those as configuration).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

version="4.32.5"
venv="$root/.tools/schemathesis"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$version"; then
  echo "installing schemathesis $version into .tools/schemathesis"
  rm -rf "$venv"
  # Debian's python3 (3.11 on bookworm) is enough: the hooks serialise ast.parse, which CPython 3.11 does not make
  # safe across schemathesis' worker threads. A fresh machine may lack the venv module.
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >/dev/null
fi

binary="${SCHEMATHESIS_TARGET_BIN:-}"
if [ -z "$binary" ]; then
  target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  cargo build --locked --quiet -p comanda
  binary="$target_dir/debug/comanda"
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

COMANDA_AUTH__BCRYPT_COST=4 COMANDA_INSECURE_DEMO=true RUST_LOG="${RUST_LOG:-warn}" \
  "$binary" serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "comanda did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
origin="https://127.0.0.1:$port"

# KEY=value lines: ACCESS_TOKEN, VENUE_ID, TABLE_ID, TABLE_TOKEN, CATEGORY_ID, ITEM_ID, ORDER_ID.
while IFS='=' read -r key value; do
  case "$key" in
    ACCESS_TOKEN | VENUE_ID | TABLE_ID | TABLE_TOKEN | CATEGORY_ID | ITEM_ID | ORDER_ID) export "$key=$value" ;;
  esac
done < <(python3 scripts/schemathesis_seed.py "$origin")
[ -n "${ACCESS_TOKEN:-}" ] || { echo "seeding failed" >&2; exit 1; }

export SCHEMATHESIS_HOOKS="$root/scripts/schemathesis_hooks.py"
run() {
  "$venv/bin/schemathesis" --config-file "$root/scripts/schemathesis.toml" run "$origin/openapi.json" \
    --phases examples,coverage,fuzzing,stateful \
    --header "Authorization: Bearer $ACCESS_TOKEN" \
    --tls-verify "$work/data/tls/cert.pem" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-15}" \
    --seed "${SCHEMATHESIS_SEED:-14}" \
    --generation-deterministic \
    --workers 2 \
    --request-timeout 15 \
    --no-color \
    "$@"
}

# Signing out, signing out everywhere and reporting a compromise revoke the very token the fuzzer sends, after
# which every secured route would only answer 401 (declared, but it would leave the rest unexercised). They are
# fuzzed too — in a second run, after everything else.
revoking='^/api/v1/auth/(logout|logout-all|compromised)$'
started=$SECONDS
status=0
run --max-time "${SCHEMATHESIS_MAX_TIME:-100}" --exclude-path-regex "$revoking" || status=$?
run --max-time 20 --include-path-regex "$revoking" || status=$?
echo "schemathesis: $((SECONDS - started)) s"
if [ "$status" -ne 0 ]; then
  echo "== server log (last 50 lines)" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
