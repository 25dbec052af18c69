#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust tests, the training smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
PY=${PY:-.venv/bin/python}
# smoke_test.sh changes into training/: hand it an absolute interpreter path.
case "$PY" in /*) ;; */*) PY="$PWD/$PY" ;; esac
if [ -x "$PY" ]; then
  training/smoke_test.sh "$PY"
else
  echo "skip: training smoke test (no $PY; run: python3 -m venv .venv && .venv/bin/pip install -r training/requirements.txt)"
fi
