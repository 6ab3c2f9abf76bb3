#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the suites need (pinned by
# tests/js/package-lock.json), checks formatting and lints, smoke-runs every fuzz target,
# then runs every test of the workspace.
#
# FUZZ_SECONDS (default 15) sets how long each fuzz target runs; 0 skips the fuzz smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "reference peers (npm ci, pinned by tests/js/package-lock.json)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)

step "Chromium for the browser test (Debian's package)"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

step "redis-server for the cluster tests (Debian's package)"
if ! command -v "${REDIS_SERVER:-redis-server}" >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

step "python-socketio (virtualenv tests/.venv, pinned by tests/python/requirements.lock)"
if [ ! -f tests/.venv/installed.lock ] || ! cmp -s tests/python/requirements.lock tests/.venv/installed.lock; then
  python3 -m venv tests/.venv
  tests/.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r tests/python/requirements.lock
  cp tests/python/requirements.lock tests/.venv/installed.lock
fi

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

fuzz_seconds=${FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" -gt 0 ]; then
  step "fuzz smoke run (${fuzz_seconds}s per target)"
  tests/fuzz-smoke.sh "$fuzz_seconds"
fi

step "tests"
cargo test --workspace --locked
