#!/usr/bin/env bash
# Installs what a fresh Debian machine with the Rust toolchain lacks for building and testing comanda:
# PostgreSQL's server binaries (the tests start throwaway clusters), Debian's Chromium (browser tests), Node.js and
# npm (Playwright), python3 (the controls check), SoftHSM2 (the PKCS#11 KMS tests), and the clippy/rustfmt
# components. Idempotent; quiet when all is present.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v pg_config >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)
command -v setsid >/dev/null 2>&1 || missing+=(util-linux)
fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Tests that run as root start PostgreSQL as the `postgres` system user (initdb refuses root).
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
fi

for component in clippy rustfmt; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done
