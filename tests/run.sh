#!/usr/bin/env bash
# The project's one test command (README "Run the tests"; CI runs exactly this).
# It installs what the tests need on a fresh machine, then runs:
#   1. formatting and lint checks,
#   2. the Rust unit and integration tests (real server, real HTTP/TLS),
#   3. the interoperability tests: Python zeep, a strict generic SOAP client,
#      loaded with the official ISDS WSDL and with the WSDL the gateway serves.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# --- system tools: xmllint validates responses against the XSDs, openssl
# checks TLS and signatures, curl (the system's libcurl) checks HTTP/2,
# chromium drives the web inspector's tests.
need_apt=()
command -v xmllint >/dev/null 2>&1 || need_apt+=(libxml2-utils)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# Headless Chromium and its WebDriver for the inspector's browser tests.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- Python venv for the interoperability tests (kept under target/, which
# is never committed).
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
VENV="$TARGET_DIR/interop-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import zeep, pytest' 2>/dev/null; then
  say "creating the Python venv with zeep and pytest"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/interop/requirements.txt
fi

# --- the official interface files the conformance tests compare against
# (3.11, the current interface, and 3.09).
for OFFICIAL in ../shared/isds-reference/official-3.11 ../shared/isds-reference/official; do
  if [ ! -d "$OFFICIAL" ]; then
    echo "!! $OFFICIAL is missing: conformance and validation tests against the" >&2
    echo "!! official WSDL/XSD will FAIL. Put the ISDS reference next to the repo." >&2
  fi
done

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

say "cargo test"
cargo build --quiet --bin isds-gateway
cargo test --quiet

# --- coverage-guided fuzzing of the XML, SOAP and schema parsers, about
# two minutes in all (fuzz/run.sh; corpus and crashes stay under target/).
if [ "${FUZZ:-1}" != 0 ]; then
  say "fuzzing (20 s per target)"
  fuzz/run.sh 20
fi

# The interoperability tests run last, so their summary closes the output.
say "interoperability tests (zeep)"
ISDS_GATEWAY_BIN="$TARGET_DIR/debug/isds-gateway" \
  "$VENV/bin/python" -m pytest -q tests/interop

