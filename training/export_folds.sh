#!/usr/bin/env bash
# Exports the ten CK+ fold checkpoints as int8 ONNX into models/ckplus/ (calibrated on
# the fold's CK+ training images; no temperature: these models exist to reproduce the protocol).
#   training/export_folds.sh [python] [run dir]
set -euo pipefail
PY=${1:-python}
RUN=${2:-runs/ck_b_ferinit}
cd "$(dirname "$0")"
for k in 0 1 2 3 4 5 6 7 8 9; do
  $PY export.py $RUN/fold$k.pt --name nano_b_fold$k --out-dir ../models/ckplus --int8 --no-f32 \
    --calib ckplus --calib-exclude-fold $k --calib-n 512 --no-temperature
done
