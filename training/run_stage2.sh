#!/usr/bin/env bash
# Second stage of the deployed model: a warm restart from the FER+ model with CK+
# subject folds 0-7 mixed in (8-9 stay held out), milder augmentation, 20 epochs.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PY:-python}
$PY train.py ferplus --arch b --epochs ${EPOCHS:-20} --lr 6e-4 --init runs/fer_b/best.pt \
  --ck-folds 0-7 --rot 8 --zoom 1.1 --cam-p 0.1 --out runs/deploy_b2
