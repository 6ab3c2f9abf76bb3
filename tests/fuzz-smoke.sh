#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a few seconds each: `tests/fuzz-smoke.sh [SECONDS]`.
# Installs cargo-fuzz (pinned) when missing. libFuzzer needs unstable compiler flags: a
# nightly toolchain is used when installed, otherwise the stable one with RUSTC_BOOTSTRAP.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-15}

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
if rustup run nightly rustc --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

for target in $("${fuzz[@]}" list); do
  echo "--- $target"
  # Our crates forbid unsafe code, so the smoke run skips AddressSanitizer for speed.
  "${fuzz[@]}" run --sanitizer none "$target" -- -max_total_time="$seconds" -max_len=4096 2>&1 |
    grep -E '^(#[0-9]+ +DONE|Done|==[0-9]+==|thread .* panicked|SUMMARY|artifact_prefix|Test unit written)' || true
  test "${PIPESTATUS[0]}" -eq 0
done
