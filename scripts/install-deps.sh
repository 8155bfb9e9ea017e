#!/usr/bin/env bash
# Installs what a fresh Debian machine with the Rust toolchain lacks for building and testing comanda:
# PostgreSQL's server binaries (the tests start throwaway clusters), Debian's Chromium (browser tests), Node.js and
# npm (Playwright), python3 (the controls check and moto), SoftHSM2 (the PKCS#11 KMS tests), moto's S3 server in
# .tools/moto (the backup tests' S3 target), and the clippy/rustfmt components. Idempotent; quiet when all is present.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v pg_config >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
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

# moto's S3 server for the backup tests (an S3 bucket on a loopback port), in a virtual environment inside the
# repository (git-ignored), so nothing is installed system-wide.
root="$(cd "$(dirname "$0")/.." && pwd)"
moto="$root/.tools/moto"
if [ ! -x "$moto/bin/moto_server" ]; then
  echo "installing moto's S3 server into .tools/moto"
  rm -rf "$moto"
  python3 -m venv "$moto"
  "$moto/bin/pip" install --quiet --disable-pip-version-check 'moto[server]' >/dev/null
fi

for component in clippy rustfmt; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done
