#!/usr/bin/env bash
# CK+ 10-fold from scratch (no FER+ pretraining), the paper's LR steps scaled to
# ${CK_EPOCHS:-60} epochs (the paper uses 200; 2-core CPU budget).
set -euo pipefail
cd "$(dirname "$0")/.."  # training/: train.py and the runs/ folder
PY=${PY:-python}
for k in 0 1 2 3 4 5 6 7 8 9; do
  [ -f runs/ck_b_scratch/fold$k.pt ] && continue  # resume: folds already trained are kept
  $PY train.py ckfold --arch b --fold $k --epochs ${CK_EPOCHS:-60} --out runs/ck_b_scratch
done
