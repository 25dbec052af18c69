#!/usr/bin/env bash
# Regenerates the V4L2 bindings in vendor/v4l2-sys-mit/src/bindings/ (the local
# stand-in for the v4l2-sys-mit crate, patched in by Cargo.toml), so that building
# emocue needs neither bindgen nor libclang. Run it when the v4l crate moves to a new
# v4l2-sys-mit, or to add a target.
#
# It runs bindgen 0.65.1 with exactly the settings of v4l2-sys-mit 0.3.0's build
# script (`bindgen::Builder::default().header("wrapper.h")`, wrapper.h being
# `#include <linux/videodev2.h>`), once per target, as a build script would: `TARGET`
# names the target and `BINDGEN_EXTRA_CLANG_ARGS_<target>` points clang at that
# target's headers (clang gets `--target=` from bindgen).
#
# Needs (Debian 12):
#   apt-get install libclang-dev linux-libc-dev                 # the host's headers
#   apt-get install libc6-dev-arm64-cross linux-libc-dev-arm64-cross   # aarch64's, in /usr/aarch64-linux-gnu
# A target that is not the host's is read from the sysroot /usr/<gnu triple> (Debian's
# cross layout); set SYSROOT_<arch> (e.g. SYSROOT_aarch64=/opt/sysroot) for another.
#
# Usage: scripts/gen-v4l2-bindings.sh [ARCH...]     (default: x86_64 aarch64)
# Then: `git diff --stat vendor/`, `cargo build`, and for aarch64
# scripts/cross-test.sh, which runs bindgen's layout tests under QEMU.
# A new architecture also needs its line in vendor/v4l2-sys-mit/src/lib.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 aarch64)

gen_target_dir="$PWD/target/gen-v4l2-bindings"
cargo build --quiet --release --manifest-path scripts/gen-v4l2-bindings/Cargo.toml \
  --target-dir "$gen_target_dir"
gen="$gen_target_dir/release/gen-v4l2-bindings"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The upstream crate's wrapper.h, verbatim.
echo '#include <linux/videodev2.h>' > "$work/wrapper.h"

host_arch=$(uname -m)
out_dir=vendor/v4l2-sys-mit/src/bindings
mkdir -p "$out_dir"
for arch in "${archs[@]}"; do
  target="$arch-unknown-linux-gnu"
  var="BINDGEN_EXTRA_CLANG_ARGS_${target//-/_}"
  sysroot_var="SYSROOT_$arch"
  sysroot="${!sysroot_var:-}"
  if [ -z "$sysroot" ] && [ "$arch" != "$host_arch" ]; then
    sysroot="/usr/$arch-linux-gnu"
  fi
  if [ -n "$sysroot" ]; then
    if [ ! -e "$sysroot/include/linux/videodev2.h" ] && [ ! -e "$sysroot/usr/include/linux/videodev2.h" ]; then
      echo "gen-v4l2-bindings: no linux/videodev2.h under $sysroot for $arch;" \
        "install linux-libc-dev-<debian arch>-cross or set $sysroot_var" >&2
      exit 1
    fi
    extra="--sysroot=$sysroot"
  else
    extra=""
  fi
  # Build-script conditions: TARGET set, the target's clang arguments, nothing else.
  (cd "$work" && env -u BINDGEN_EXTRA_CLANG_ARGS TARGET="$target" "$var=$extra" \
    "$gen" wrapper.h "$work/$arch.rs")
  mv "$work/$arch.rs" "$out_dir/$arch.rs"
  echo "wrote $out_dir/$arch.rs ($target${sysroot:+, sysroot $sysroot})"
done

# Record which headers the bindings came from (vendor/v4l2-sys-mit/README.md lists them).
if command -v dpkg-query >/dev/null; then
  dpkg-query -W -f='${Package} ${Version}\n' linux-libc-dev 'linux-libc-dev-*-cross' 2>/dev/null || true
fi
