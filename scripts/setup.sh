#!/usr/bin/env bash
# Installs whatever Trailkeeper's build, demo and tests need and this machine lacks.
# Every step checks first and skips itself when already done, so a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p}' Cargo.lock)

step() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

have_pg_server() {
  command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

apt_packages=()
have_pg_server || apt_packages+=(postgresql)
# `make bench` loads rows with psql's \copy.
command -v psql >/dev/null 2>&1 || apt_packages+=(postgresql-client)
# `make bench SCALE=…` keeps those rows compressed on disk with it.
command -v zstd >/dev/null 2>&1 || apt_packages+=(zstd)
# …and measures requests a second at 50 connections with wrk.
command -v wrk >/dev/null 2>&1 || apt_packages+=(wrk)
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
python3 -m venv --help >/dev/null 2>&1 || apt_packages+=(python3-venv)
command -v cc >/dev/null 2>&1 || apt_packages+=(build-essential)
# The demo's AWS peer walks its clock through the estate's history with libfaketime.
compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' >/dev/null || apt_packages+=(faketime)
# The TLS test makes a self-signed certificate with it.
command -v openssl >/dev/null 2>&1 || apt_packages+=(openssl)
if [ ${#apt_packages[@]} -gt 0 ]; then
  step "apt-get install ${apt_packages[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${apt_packages[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
  # Newer releases need a newer Rust; no_downloads stops it fetching tools from the internet,
  # so it uses the wasm-bindgen and wasm-opt installed below.
  step "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes, once)"
  cargo install cargo-leptos@"$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  # Without --locked: its lockfile names a crate version the registry no longer has.
  step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli@"$WASM_BINDGEN_VERSION"
fi

# npm packages: playwright-core for the browser tests and binaryen's wasm-opt for release
# builds (Debian's older wasm-opt breaks hydration).
if [ ! -f end2end/node_modules/.package-lock.json ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  step "npm ci in end2end/"
  (cd end2end && npm ci --no-audit --no-fund)
fi

# moto's server is the AWS API peer, in a virtualenv inside the repository.
if ! cmp -s tools/moto-requirements.txt .venv/.installed-requirements 2>/dev/null; then
  step "python venv .venv with moto"
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tools/moto-requirements.txt
  cp tools/moto-requirements.txt .venv/.installed-requirements
fi
