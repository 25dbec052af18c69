#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust tests, the training smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
# Lints and tests in one build: clippy's driver compiles our crates (it is rustc plus
# the lints, exactly what `cargo clippy` runs them through), so the dependencies are
# built once, not a second time in check mode. `-D warnings` reaches it the way
# `cargo clippy -- -D warnings` passes it. Without the driver: plain clippy, then tests.
if DRIVER=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver); then
  export RUSTC_WORKSPACE_WRAPPER="$DRIVER"
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
  cargo test --benches --no-run   # the bench targets get their lints too
else
  cargo clippy --all-targets -- -D warnings
fi
cargo test
PY=${PY:-.venv/bin/python}
# smoke_test.sh changes into training/: hand it an absolute interpreter path.
case "$PY" in /*) ;; */*) PY="$PWD/$PY" ;; esac
if [ -x "$PY" ]; then
  training/smoke_test.sh "$PY"
else
  echo "skip: training smoke test (no $PY; run: python3 -m venv .venv && .venv/bin/pip install -r training/requirements.txt)"
fi
