#!/usr/bin/env bash
# Byte-identical check for restructurings: runs replay (events, rendered frames),
# classify and bench's JSON keys with a binary and writes them under a folder; run it
# before (`record DIR`) and after (`check DIR`) the change. Uses ../shared/data clips
# when present (converted once to Y4M by ffmpeg), else only the bundled sample.
#   scripts/compare-outputs.sh record /tmp/ref [BIN]   # before
#   scripts/compare-outputs.sh check  /tmp/ref [BIN]   # after: cmp every file, exit 1 on a difference
set -euo pipefail
cd "$(dirname "$0")/.."
mode=$1; ref=$2; bin=${3:-target/release/emocue}
data=../shared/data
out=$ref; [ "$mode" = check ] && out=$(mktemp -d)
mkdir -p "$out" "$ref/clips"

clips=(samples/astronaut)
if command -v ffmpeg >/dev/null && [ -d "$data/videos" ]; then
  for v in franck.mp4 talking/lrs2/00001.mp4 talking/grid/bbaf2n.mpg; do
    y="$ref/clips/$(echo "$v" | tr / _).y4m"
    [ -f "$y" ] || ffmpeg -loglevel error -y -t 4 -i "$data/videos/$v" -vf scale=320:-2 -pix_fmt yuv420p "$y"
    clips+=("$y")
  done
  # A grey clip: the luma-only path of the Y4M reader.
  g="$ref/clips/grey.y4m"
  [ -f "$g" ] || ffmpeg -loglevel error -y -t 2 -i "$data/videos/franck.mp4" -vf scale=320:-2 -pix_fmt gray -strict -1 "$g"
  clips+=("$g")
fi

for c in "${clips[@]}"; do
  n=$(basename "$c")
  "$bin" replay "$c" --no-timing --events "$out/$n.jsonl"
  "$bin" replay "$c" --no-timing --events /dev/null --summary > "$out/$n.summary" || true
done
# The overlay drawn offscreen (skipped where no GPU adapter exists).
if "$bin" replay samples/astronaut --no-timing --events /dev/null --render "$out/render" 2>/dev/null; then :; fi
"$bin" replay samples/astronaut --no-timing --events /dev/null --render-mode debug --render-video "$out/debug.y4m" 2>/dev/null || true
"$bin" classify --json samples/astronaut > "$out/classify.jsonl"
"$bin" classify --json --one-look samples/astronaut > "$out/classify-one-look.jsonl"
if [ -d "$data/ckplus48" ]; then
  "$bin" classify --json --crop $(ls -d "$data"/ckplus48/*/ | head -2) 2>/dev/null | head -40 > "$out/classify-crop.jsonl"
fi
"$bin" bench --json --seconds 0.2 | python3 -c 'import json,sys
def keys(v,p=""):
    if isinstance(v,dict):
        for k,x in v.items(): yield from keys(x,p+"/"+k)
    else: yield p
print("\n".join(keys(json.load(sys.stdin))))' > "$out/bench-keys.txt"
"$bin" check-config config/default.toml > "$out/check-config.txt" 2>&1 || true
"$bin" --help > "$out/help.txt"
for c in replay classify run devices record bench check-config preview-labels; do
  "$bin" "$c" --help > "$out/help-$c.txt"
done

if [ "$mode" = check ]; then
  bad=0
  while IFS= read -r f; do
    rel=${f#"$ref"/}
    case "$rel" in clips/*) continue ;; esac
    if ! cmp -s "$f" "$out/$rel"; then echo "DIFFERS: $rel"; bad=1; fi
  done < <(find "$ref" -type f)
  n=$(find "$ref" -type f -not -path "*/clips/*" | wc -l)
  if [ $bad = 0 ]; then echo "compare-outputs: all $n files byte-identical"; else exit 1; fi
fi
