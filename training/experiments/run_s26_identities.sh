#!/usr/bin/env bash
# Session 26 (issue 18, points 2 and 3): more identities, labelled by an ensemble of the
# face-api teacher and our own shipped network, with FER+ faces keeping their human
# votes (--kd-alpha 0), against the same recipe without them. Both warm from the shipped
# network, FER+ + CK+ folds 0-7 + the tuning half's neutral speakers; M030 and the
# report half stay unseen. Two CPU cores: the two runs side by side, about 25 minutes.
#   PY=../.venv/bin/python ./experiments/run_s26_identities.sh
# Scored with docs/results.md's commands ("More identities, labelled by teacher and
# network together").
set -euo pipefail
cd "$(dirname "$0")/.."  # training/
PY=${PY:-python}
EPOCHS=${EPOCHS:-5}
$PY from_onnx.py ../models/emotionnet_nano_b.onnx runs/deployed/best.pt
[ -e .cache/talk/tune.npz ] || $PY talk_frames.py --split tune --out .cache/talk/tune.npz
$PY teacher_labels.py --teacher face-api --sets lfw
$PY experiments/ens_cache.py --teacher face-api --sets lfw,fer-train --name ens
common=(ferplus --arch b --init runs/deployed/best.pt --ck-folds 0-7 --talk-faces .cache/talk/tune.npz
        --epochs "$EPOCHS" --lr 3e-4 --rot 8 --zoom 1.1 --cam-p 0.1 --threads 1)
$PY train.py "${common[@]}" --teacher-cache ens --kd-alpha 0 --extra-faces lfw --out runs/s26_ens &
$PY train.py "${common[@]}" --out runs/s26_ctl &
wait
cp runs/s26_ens/log.jsonl logs/s26_ens.jsonl
cp runs/s26_ctl/log.jsonl logs/s26_ctl.jsonl
