#!/usr/bin/env bash
# Ablation of the training recipe (docs/results.md): Nano-B on FER+ only, a short
# schedule (EPOCHS, default 8) so every variant fits a 2-core machine; each run drops
# one ingredient. Score them all with: python tools/crossdata.py runs/abl_*/best.pt
set -euo pipefail
cd "$(dirname "$0")/.."  # training/: train.py and the runs/ folder
PY=${PY:-python}
E=${EPOCHS:-8}
run() { name=$1; shift; [ -f runs/abl_$name/best.pt ] || $PY train.py ferplus --arch b --epochs $E --out runs/abl_$name "$@"; }
run full
run nogeo --rot 0 --shift 0 --zoom 1.0
run nocam --no-camera-aug
run nobal --no-balance
if [ -n "${ABL_ALL:-}" ]; then run hard --hard-labels; fi  # majority-vote labels (off by default: time)
