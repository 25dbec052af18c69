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

# The Python environment for the training smoke test and the onnxruntime bench
# comparison: made once, from training/requirements.txt. Made in the background while
# Rust builds (it is mostly a download: torch alone is gigabytes), into .venv.partial,
# renamed to .venv only when complete, so an interrupted set-up is never taken for one.
PY=${PY:-.venv/bin/python}
# smoke_test.sh changes into training/: hand it an absolute interpreter path.
case "$PY" in /*) ;; */*) PY="$PWD/$PY" ;; esac
venv_pid=
venv_log="$target_dir/venv-setup.log"
if [ ! -x "$PY" ] && [ "$PY" = "$PWD/.venv/bin/python" ]; then
  echo "test.sh: creating .venv from training/requirements.txt in the background (first run only; several minutes; log: $venv_log)"
  (
    rm -rf .venv.partial
    python3 -m venv .venv.partial && .venv.partial/bin/pip install -q --upgrade pip \
      && .venv.partial/bin/pip install -q -r training/requirements.txt \
      && mv .venv.partial .venv \
      && { grep -lI '\.venv\.partial' .venv/bin/* | xargs -r sed -i 's|\.venv\.partial|.venv|g'; }
  ) > "$venv_log" 2>&1 &
  venv_pid=$!
fi
stop_venv() { [ -n "$venv_pid" ] && kill "$venv_pid" 2>/dev/null; true; }
trap 'stop_venv; report_skips' EXIT
wait_venv() {
  [ -n "$venv_pid" ] || return 0
  if wait "$venv_pid"; then
    echo "test.sh: .venv ready"
  else
    tail -n 20 "$venv_log" >&2
    echo "test.sh: could not create .venv (needs python3-venv and access to PyPI; log: $venv_log)" >&2
  fi
  venv_pid=
}

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
cargo test --no-run
# Tests run once the Python environment is there (a bench test compares with onnxruntime).
wait_venv
cargo test
if [ -x "$PY" ]; then
  training/smoke_test.sh "$PY"
else
  skip "training smoke test" python \
    "no $PY (python3 -m venv .venv && .venv/bin/pip install -r training/requirements.txt)"
fi
