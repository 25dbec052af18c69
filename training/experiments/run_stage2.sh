#!/usr/bin/env bash
# Second stage of the deployed model: a warm restart from the FER+ model with CK+
# subject folds 0-7 mixed in (8-9 stay held out), milder augmentation.
#   ARCH=b2 INIT=runs/fer_b2/best.pt OUT=runs/deploy_b2v2 EPOCHS=14 ./experiments/run_stage2.sh
set -euo pipefail
cd "$(dirname "$0")/.."  # training/: train.py and the runs/ folder
PY=${PY:-python}
$PY train.py ferplus --arch ${ARCH:-b} --epochs ${EPOCHS:-20} --lr 6e-4 --init ${INIT:-runs/fer_b/best.pt} \
  --ck-folds 0-7 --rot 8 --zoom 1.1 --cam-p 0.1 --out ${OUT:-runs/deploy_b2}
