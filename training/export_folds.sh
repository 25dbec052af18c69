#!/usr/bin/env bash
# Exports the ten CK+ fold checkpoints as int8 ONNX (calibrated on the fold's CK+
# training images; no temperature: these models exist to reproduce the protocol).
#   training/export_folds.sh [python] [run dir] [out dir] [name prefix]
#   e.g. training/export_folds.sh python runs/ck_a_ferinit /tmp/ck_a nano_a
set -euo pipefail
PY=${1:-python}
RUN=${2:-runs/ck_b_ferinit}
OUT=${3:-../models/ckplus}
PREFIX=${4:-nano_b}
cd "$(dirname "$0")"
for k in 0 1 2 3 4 5 6 7 8 9; do
  $PY export.py $RUN/fold$k.pt --name ${PREFIX}_fold$k --out-dir $OUT --int8 --no-f32 \
    --calib ckplus --calib-exclude-fold $k --calib-n 512 --no-temperature
done
