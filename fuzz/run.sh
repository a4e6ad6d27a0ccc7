#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a bounded time.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Default: 30 seconds for each of envelope, request and xml_roundtrip.
# Uses cargo-fuzz (libFuzzer) on stable Rust: `-s none` builds without a
# sanitizer, which is the only part of cargo-fuzz that needs nightly. The
# coverage instrumentation (-Cpasses=sancov-module and friends) works on
# stable.
#
# Nothing is written into the repository: the corpus, crash inputs, the
# dictionary and the logs live under $CARGO_TARGET_DIR/fuzz (default
# target/fuzz). The committed seeds in fuzz/seeds/ are read, never written.
# Exits non-zero if a target crashes, printing the crashing input's path.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

SECS="${1:-30}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(envelope request xml_roundtrip)
CARGO_FUZZ_VERSION=0.13.2

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$TARGET_DIR/fuzz"
BIN="$TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release"
mkdir -p "$WORK"

# --- tools: cargo-fuzz, and a C++ compiler for libFuzzer itself.
if ! command -v c++ >/dev/null 2>&1; then
  echo "fuzz: installing g++ (libFuzzer is C++)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION (once, about a minute)"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# --- build: optimised, with debug assertions and overflow checks.
echo "fuzz: building the fuzz targets"
cargo fuzz build --sanitizer none --target-dir "$TARGET_DIR" 2>"$WORK/build.log" ||
  { cat "$WORK/build.log" >&2; exit 1; }

# --- generated inputs: a dictionary of the schema's names and values, and
# one request envelope per operation (every field at its default, written
# by the request target itself), next to the committed seeds.
{
  printf '%s\n' '"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"' '"encoding=\"windows-1250\""' \
    '"xmlns=\""' '"xmlns:"' '"xml:lang"' '"xsi:nil=\"true\""' '"mustUnderstand=\"1\""' \
    '"<![CDATA["' '"]]>"' '"<!--"' '"-->"' '"&amp;"' '"&lt;"' '"&#x"' '"&#"' '"<!DOCTYPE"' '"<?"' \
    '"http://isds.czechpoint.cz/v20"' '"http://www.w3.org/2001/XMLSchema-instance"' \
    '"http://schemas.xmlsoap.org/soap/envelope/"' '"http://www.w3.org/2003/05/soap-envelope"' \
    '"http://www.w3.org/XML/1998/namespace"' '"T12:00:00.000+01:00"' '"2026-01-31"'
  grep -ho ' name="[A-Za-z0-9_.-]*"\| value="[A-Za-z0-9_.:-]*"' schemas/*.xsd |
    sed 's/^[^"]*"\([^"]*\)"$/"\1"/' | sort -u
} >"$WORK/isds.dict"
OPS="$WORK/seeds-operations"
rm -rf "$OPS" && mkdir -p "$OPS"
ISDS_FUZZ_WRITE_SEEDS="$OPS" "$BIN/request" -runs=0 >"$WORK/seeds.log" 2>&1 ||
  { cat "$WORK/seeds.log" >&2; exit 1; }

# --- run. Every target reads all seeds (they are all XML documents); new
# inputs go to the first directory, the corpus under target/. A crash is a
# panic, an input taking over 10 s, or the process growing past 512 MB
# (inputs are at most 4 KiB; without a sanitizer libFuzzer can watch the
# RSS but not single allocations).
failed=0
for t in "${TARGETS[@]}"; do
  corpus="$WORK/corpus/$t"
  artifacts="$WORK/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  echo "fuzz: $t for ${SECS}s"
  if ! "$BIN/$t" "$corpus" fuzz/seeds/* "$OPS" \
    -dict="$WORK/isds.dict" -max_total_time="$SECS" -timeout=10 \
    -rss_limit_mb=512 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$WORK/$t.log" 2>&1; then
    failed=1
    tail -n 40 "$WORK/$t.log" >&2
    crash="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$WORK/$t.log" | tail -n 1)"
    echo "fuzz: $t FAILED; crashing input: ${crash:-see $WORK/$t.log}" >&2
    if [ -n "$crash" ]; then echo "fuzz: reproduce with: $BIN/$t $crash" >&2; fi
  else
    echo "fuzz: $t ok ($(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log") runs," \
      "corpus $(find "$corpus" -type f | wc -l) inputs)"
  fi
done
exit "$failed"
