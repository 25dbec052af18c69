#!/usr/bin/env bash
# Session 28 (issue 19, point 3: "MEAD M030 clips with their emotion"): M030's acted
# speech in training, held out in time since he is the only actor who acts emotions.
# Session 26's control recipe (warm from the shipped network, 5 epochs, FER+ + CK+ folds
# 0-7 + the tuning half's neutral speakers) plus half of each of his eight clips:
#   s28_head  + the first half of each clip (scored on the second half)
#   s28_tail  + the second half (scored on the first half)
# then, side by side:
#   s28_all   + every frame of his clips (the candidate that would ship)
#   s28_ctl   the control recipe alone, seed 0 (session 26's s26_ctl again: its file is gone)
# Scored with docs/results.md's commands ("M030's speech in training").
#   PY=../.venv/bin/python ./experiments/run_s28_m030.sh
set -euo pipefail
cd "$(dirname "$0")/.."  # training/
PY=${PY:-python}
EPOCHS=${EPOCHS:-5}
$PY from_onnx.py ../models/emotionnet_nano_b.onnx runs/deployed/best.pt
[ -e .cache/talk/tune.npz ] || $PY talk_frames.py --split tune --out .cache/talk/tune.npz
for part in head tail all; do
  [ -e .cache/talk/m030_$part.npz ] || $PY talk_frames.py --mead $part --every 1 --max-per-clip 400 --out .cache/talk/m030_$part.npz
done
ctl=(ferplus --arch b --init runs/deployed/best.pt --ck-folds 0-7
     --epochs "$EPOCHS" --lr 3e-4 --rot 8 --zoom 1.1 --cam-p 0.1 --threads 1)
$PY train.py "${ctl[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/m030_head.npz --out runs/s28_head &
$PY train.py "${ctl[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/m030_tail.npz --out runs/s28_tail &
wait
$PY train.py "${ctl[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/m030_all.npz --out runs/s28_all &
$PY train.py "${ctl[@]}" --talk-faces .cache/talk/tune.npz --out runs/s28_ctl &
wait
for r in head tail all ctl; do
  cp runs/s28_$r/log.jsonl logs/s28_$r.jsonl
  $PY export.py runs/s28_$r/best.pt --name s28_$r --out-dir /tmp/s28x --int8
done
# Training on all his frames costs FER2013Valid's disgust and contempt recall (other
# people's), so the same with the shipped network as a teacher on the FER+ faces
# (distillation anchors what it knew; his frames and CK+ keep their labels):
#   s28_headkd  + the first half of each clip, scored on the second half (shipped in session 28)
#   s28_allkd   + every frame of his clips
kd=(--teacher runs/deployed/best.pt --kd-fer-only)
$PY train.py "${ctl[@]}" "${kd[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/m030_head.npz --out runs/s28_headkd &
$PY train.py "${ctl[@]}" "${kd[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/m030_all.npz --out runs/s28_allkd &
wait
for r in headkd allkd; do
  cp runs/s28_$r/log.jsonl logs/s28_$r.jsonl
  $PY export.py runs/s28_$r/best.pt --name s28_$r --out-dir /tmp/s28x --int8
done
