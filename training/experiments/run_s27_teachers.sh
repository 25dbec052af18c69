#!/usr/bin/env bash
# Session 27 (issue 18, point 2: "measure what each teacher adds"): the faces-lfw-bollywood
# faces (more identities) labelled by ensembles that include the second registry teacher,
# PyPI facex, which reads MEAD M030's angry clip as anger where our network and face-api
# read happiness (experiments/teacher_probe.py). Two runs side by side, the recipe of
# session 26's (run_s26_identities.sh: warm from the shipped network, 5 epochs, FER+ +
# CK+ folds 0-7 + the tuning half's neutral speakers, FER+ faces keep their votes):
#   s27_ens3  lfw labelled by the mean of ours, face-api and facex
#   s27_fx    lfw labelled by the mean of ours and facex
# then two more side by side:
#   s27_hum   lfw labelled by the mean of ours and human (npm human-models)
#   s27_agree as s27_ens3, only the faces all three members put in the same class
# Session 26's s26_ens (ours and face-api) and s26_ctl (no lfw) are the references;
# last, s26_ctl's recipe again at seeds 1 and 2 (s27_ctl1, s27_ctl2): how much of the
# suite's worst-domain score is chance.
# Scored with docs/results.md's commands ("Three registry teachers, each measured").
#   PY=../.venv/bin/python ./experiments/run_s27_teachers.sh
set -euo pipefail
cd "$(dirname "$0")/.."  # training/
PY=${PY:-python}
EPOCHS=${EPOCHS:-5}
$PY from_onnx.py ../models/emotionnet_nano_b.onnx runs/deployed/best.pt
[ -e .cache/talk/tune.npz ] || $PY talk_frames.py --split tune --out .cache/talk/tune.npz
$PY teacher_labels.py --teacher face-api --sets lfw
$PY teacher_labels.py --teacher facex --sets lfw
$PY teacher_labels.py --teacher human --sets lfw
$PY experiments/ens_cache.py --teacher face-api,facex --sets lfw,fer-train --name ens3
$PY experiments/ens_cache.py --teacher facex --sets lfw,fer-train --name ensfx
$PY experiments/ens_cache.py --teacher human --sets lfw,fer-train --name enshum
$PY experiments/ens_cache.py --teacher face-api,facex --sets lfw,fer-train --name ens3agree --agree
common=(ferplus --arch b --init runs/deployed/best.pt --ck-folds 0-7 --talk-faces .cache/talk/tune.npz
        --epochs "$EPOCHS" --lr 3e-4 --rot 8 --zoom 1.1 --cam-p 0.1 --threads 1 --kd-alpha 0 --extra-faces lfw)
$PY train.py "${common[@]}" --teacher-cache ens3 --out runs/s27_ens3 &
$PY train.py "${common[@]}" --teacher-cache ensfx --out runs/s27_fx &
wait
$PY train.py "${common[@]}" --teacher-cache enshum --out runs/s27_hum &
$PY train.py "${common[@]}" --teacher-cache ens3agree --out runs/s27_agree &
wait
ctl=(ferplus --arch b --init runs/deployed/best.pt --ck-folds 0-7 --talk-faces .cache/talk/tune.npz
     --epochs "$EPOCHS" --lr 3e-4 --rot 8 --zoom 1.1 --cam-p 0.1 --threads 1)
$PY train.py "${ctl[@]}" --seed 1 --out runs/s27_ctl1 &
$PY train.py "${ctl[@]}" --seed 2 --out runs/s27_ctl2 &
wait
for r in ens3 fx hum agree ctl1 ctl2; do cp runs/s27_$r/log.jsonl logs/s27_$r.jsonl; done
