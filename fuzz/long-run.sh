#!/usr/bin/env bash
# The long, coverage-guided run: libFuzzer through cargo-fuzz, on the stable compiler
# (no sanitizer: -s none). docs/fuzzing.md explains what it finds and where.
#
#   cargo install cargo-fuzz --locked          # once
#   fuzz/long-run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Defaults: one hour per target, every target. The working corpus grows in
# fuzz/corpus/TARGET (the committed seeds in fuzz/seeds/TARGET are read, never
# written); failing inputs land in fuzz/artifacts/TARGET/{crash,oom,timeout}-*.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-3600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(y4m image settings profile model_meta)
# The same flags for build and run, or cargo fuzz rebuilds. 16 codegen units: a much
# faster build of tract and wgpu for slightly slower execs.
flags=(-s none --codegen-units 16)
cargo fuzz build "${flags[@]}"
status=0
for t in "${targets[@]}"; do
  case $t in
    y4m) dict=y4m.dict ;;
    image) dict=image.dict ;;
    settings | profile) dict=toml.dict ;;
    model_meta) dict=model_meta.dict ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "== $t: $secs s"
  # Address space capped at 3 GiB (no sanitizer, so no shadow memory needs more): an
  # input claiming a huge image fails its allocation at once (an abort libFuzzer saves
  # as a crash) instead of taking the machine's memory before -rss_limit_mb notices.
  (ulimit -v $((3 * 1024 * 1024))
    cargo fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
      -dict="dict/$dict" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -max_total_time="$secs" -print_final_stats=1) || status=1
done
exit $status
