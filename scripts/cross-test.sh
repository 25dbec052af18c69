#!/usr/bin/env bash
# The wearable's target in CI (docs/wearable.md): cross-builds emocue for
# aarch64-unknown-linux-gnu and runs the library's unit tests, and the V4L2 bindings'
# layout tests, under QEMU user mode (the runner in .cargo/config.toml).
#
# A cross build compiles every dependency again, so it uses the `cross` profile
# (Cargo.toml): dependencies at opt-level 1 without debug info, build-time crates at 0,
# and no `gpu` feature (wgpu, winit: nothing to test without a GPU under QEMU, and half
# the build). Only the unit tests run (`--lib`): the integration tests start the binary
# and replay clips, which takes far longer under emulation; run those by hand
# (docs/wearable.md).
#
# Needs: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
#        rustup target add aarch64-unknown-linux-gnu
# Extra arguments go to the test binaries, e.g. `scripts/cross-test.sh detect::`;
# `--build-only` builds them and runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu

missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=("gcc-aarch64-linux-gnu (the linker)")
[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || missing+=("libc6-dev-arm64-cross (the C library)")
command -v qemu-aarch64-static >/dev/null || missing+=("qemu-user-static (runs the tests)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "cross-test: missing ${missing[*]}; apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static" >&2
  exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  echo "cross-test: the Rust standard library for $target is not installed; rustup target add $target" >&2
  exit 1
fi

args=(--profile cross --target "$target" --lib --no-default-features -p emocue -p v4l2-sys-mit)
# `--build-only`: build the test binaries and stop (.ci/run builds them in the
# background while the native tests run, then calls this script again for the tests).
if [ "${1:-}" = --build-only ]; then
  exec cargo test "${args[@]}" --no-run
fi
t0=$SECONDS
cargo test "${args[@]}" --no-run
t1=$SECONDS
cargo test "${args[@]}" -- "$@"
t2=$SECONDS
echo "cross-test: build $((t1 - t0)) s, tests under QEMU $((t2 - t1)) s"
