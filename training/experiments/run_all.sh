#!/usr/bin/env bash
# The session's full training sequence (CPU, 2 cores): FER+ Nano-B, the deployed
# FER+ + CK+ fine-tune, then the CK+ 10-fold protocol fine-tuned from FER+.
set -euo pipefail
cd "$(dirname "$0")/.."  # training/: train.py and the runs/ folder
PY=${PY:-python}
$PY train.py ferplus --arch b --epochs ${FER_EPOCHS:-24} --out runs/fer_b
$PY train.py ferplus --arch b --epochs ${DEPLOY_EPOCHS:-5} --lr 3e-4 --init runs/fer_b/best.pt --ck-folds 0-7 --out runs/deploy_b
for k in 0 1 2 3 4 5 6 7 8 9; do
  $PY train.py ckfold --arch b --fold $k --epochs ${CK_EPOCHS:-40} --init runs/fer_b/best.pt --out runs/ck_b_ferinit
done
