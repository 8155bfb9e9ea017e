#!/usr/bin/env bash
# The whole test suite: formatting, lints, every Rust test (unit, property, the storage conformance suite on SQLite
# and on a throwaway PostgreSQL cluster, the HTTPS edge over real TLS, the real binary), schemathesis against the
# real binary's OpenAPI document, the browser end-to-end tests in headless Debian Chromium, and the security
# controls map. Installs what the machine lacks first.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

echo "== format and lints"
cargo fmt --all --check
# The store's statement files are `include!`d by both engines, so `cargo fmt` never reaches them: checked by name.
rustfmt --edition 2024 --check crates/store/src/*_sql.rs
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== Rust tests"
cargo test --workspace --locked

echo "== the OpenAPI contract, fuzzed by schemathesis"
./scripts/schemathesis.sh

echo "== browser end-to-end tests"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
cargo build --locked -p comanda
# One test file at a time (each starts a server and a browser); the flag exists from Node 20 on.
serial=""
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' && serial="--test-concurrency=1"
(cd web && npm ci --no-audit --no-fund --loglevel=error && E2E_TARGET_DIR="$target_dir" node --test $serial e2e/)

echo "== security controls map (clause by clause: a proven or partial promise's clause without a test fails)"
if [ -x ../shared/checks/controls-coverage ]; then
  ../shared/checks/controls-coverage --clauses
else
  echo "../shared/checks/controls-coverage not present; the map is still checked by the controls test above"
fi
