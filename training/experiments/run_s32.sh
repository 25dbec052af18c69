#!/usr/bin/env bash
# Session 32 (issue 18): two domain-generalisation methods in session 31's transfer-check
# recipe (warm from and distilled from the shipped FER+-only network, FER+ + the tuning
# half's neutral speakers, 5 epochs), each at seeds 0 and 1, to set beside session 31's
# two control seeds (s31_fo_ctl, s31_fo_ctl1): does it make a network that never saw CK+
# read CK+ people better (docs/results.md "Random erasing and MixStyle")?
#   s32_fo_erase*     random erasing (augment.erase: one rectangle of noise over 2-20 %
#                     of a face, half the faces; teachers see the face unerased)
#   s32_fo_mixstyle*  MixStyle (augment.add_mixstyle: feature-map styles mixed between
#                     faces after the stem and the first mixer, half the batches)
# then MixStyle in the shipped recipe (s32_headkd_mixstyle*, below).
# About 15 minutes a pair on two cores.
#   PY=../.venv/bin/python ./experiments/run_s32.sh
set -euo pipefail
cd "$(dirname "$0")/.."  # training/
PY=${PY:-python}
EPOCHS=${EPOCHS:-5}
[ -e runs/ft_f_rec/best.pt ] || $PY from_onnx.py ../models/fer_only/emotionnet_nano_b_fer.int8.onnx runs/ft_f_rec/best.pt
[ -e .cache/talk/tune.npz ] || $PY talk_frames.py --split tune --out .cache/talk/tune.npz
fo=(ferplus --arch b --init runs/ft_f_rec/best.pt --teacher runs/ft_f_rec/best.pt --kd-fer-only
    --epochs "$EPOCHS" --lr 3e-4 --rot 8 --zoom 1.1 --cam-p 0.1 --threads 1
    --talk-faces .cache/talk/tune.npz)
$PY train.py "${fo[@]}" --erase 0.5 --out runs/s32_fo_erase &
$PY train.py "${fo[@]}" --erase 0.5 --seed 1 --out runs/s32_fo_erase1 &
wait
$PY train.py "${fo[@]}" --mixstyle 0.5 --out runs/s32_fo_mixstyle &
$PY train.py "${fo[@]}" --mixstyle 0.5 --seed 1 --out runs/s32_fo_mixstyle1 &
wait
for r in erase erase1 mixstyle mixstyle1; do cp runs/s32_fo_$r/log.jsonl logs/s32_fo_$r.jsonl; done
# MixStyle where it has domains to mix: session 28's shipped recipe (warm from and
# distilled from the network before it, CK+ folds 0-7, the tuning speakers, M030's first
# halves), where batches hold web, lab and speech faces, at seeds 0 and 1; exported int8
# and put through the suite beside the shipped network.
[ -e runs/prev/best.pt ] || { git show 993f652:models/emotionnet_nano_b.onnx > /tmp/prev_nano_b.onnx && $PY from_onnx.py /tmp/prev_nano_b.onnx runs/prev/best.pt; }
for part in head tail; do
  [ -e .cache/talk/m030_$part.npz ] || $PY talk_frames.py --mead $part --every 1 --max-per-clip 400 --out .cache/talk/m030_$part.npz
done
dep=(ferplus --arch b --init runs/prev/best.pt --teacher runs/prev/best.pt --kd-fer-only --ck-folds 0-7
     --epochs "$EPOCHS" --lr 3e-4 --rot 8 --zoom 1.1 --cam-p 0.1 --threads 1
     --talk-faces .cache/talk/tune.npz,.cache/talk/m030_head.npz --mixstyle 0.5)
$PY train.py "${dep[@]}" --out runs/s32_headkd_mixstyle &
$PY train.py "${dep[@]}" --seed 1 --out runs/s32_headkd_mixstyle1 &
wait
for r in headkd_mixstyle headkd_mixstyle1; do
  cp runs/s32_$r/log.jsonl logs/s32_$r.jsonl
  $PY export.py runs/s32_$r/best.pt --name s32_$r --out-dir /tmp/s32x --int8 --calib-n 30000
done
