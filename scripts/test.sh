#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust tests, the training smoke test.
# Sets up what it needs: the Python environment (.venv, from training/requirements.txt)
# is created on the first run. Optional system packages widen the tests (ffmpeg,
# mesa-vulkan-drivers, xvfb, and ../shared/data); tests that cannot run without them
# are listed as skipped at the end, with the reason. EMOCUE_REQUIRE=gpu,x11,data,ffmpeg,python
# (any of them, or `all`) turns those skips into failures (CI sets it for what it installs).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/skip.sh

# Every test that skips appends a line here (tests/common.rs `skip`, scripts/skip.sh).
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
mkdir -p "$target_dir"
export EMOCUE_SKIP_LOG="$target_dir/test-skips.txt"
: > "$EMOCUE_SKIP_LOG"
report_skips() {
  local n
  n=$(grep -c . "$EMOCUE_SKIP_LOG" 2>/dev/null || true)
  if [ "${n:-0}" -gt 0 ]; then
    echo "test.sh: $n skipped (not run here; EMOCUE_REQUIRE makes them fail):"
    sort "$EMOCUE_SKIP_LOG" | sed 's/^/  /'
  else
    echo "test.sh: nothing skipped"
  fi
}
trap report_skips EXIT

# The Python environment for the training smoke test and the onnxruntime bench
# comparison: made once, from training/requirements.txt.
PY=${PY:-.venv/bin/python}
# smoke_test.sh changes into training/: hand it an absolute interpreter path.
case "$PY" in /*) ;; */*) PY="$PWD/$PY" ;; esac
if [ ! -x "$PY" ] && [ "$PY" = "$PWD/.venv/bin/python" ]; then
  echo "test.sh: creating .venv from training/requirements.txt (first run only; several minutes)"
  if python3 -m venv .venv && .venv/bin/pip install -q --upgrade pip \
     && .venv/bin/pip install -q -r training/requirements.txt; then
    echo "test.sh: .venv ready"
  else
    rm -rf .venv
    echo "test.sh: could not create .venv (needs python3-venv and access to PyPI)" >&2
  fi
fi

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
if [ -x "$PY" ]; then
  training/smoke_test.sh "$PY"
else
  skip "training smoke test" python \
    "no $PY (python3 -m venv .venv && .venv/bin/pip install -r training/requirements.txt)"
fi
