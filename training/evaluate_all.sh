#!/usr/bin/env bash
# Every number in docs/results.md and models/README.md: scores the shipped ONNX files
# with onnxruntime (1 thread) and writes docs/results/*.json and docs/img/*.png.
#   training/evaluate_all.sh [.venv/bin/python]
set -euo pipefail
PY=${1:-python}
cd "$(dirname "$0")"
R=../docs/results; I=../docs/img; M=../models
mkdir -p $R $I
export OMP_NUM_THREADS=1
for p in onnx int8.onnx w8.onnx; do
  tag=${p%.onnx}; [ "$p" = onnx ] && tag=f32
  $PY evaluate.py fer $M/emotionnet_nano_b.$p --json $R/deployed_fer_test_$tag.json \
    --figure $I/cm_deployed_fer_test_$tag.png --title "deployed Nano-B $tag, FER2013Test"
  $PY evaluate.py ck $M/emotionnet_nano_b.$p --folds 8,9 --json $R/deployed_ck_heldout_$tag.json \
    --figure $I/cm_deployed_ck_heldout_$tag.png --title "deployed Nano-B $tag, CK+ folds 8-9 (never trained on)"
done
$PY evaluate.py agree $M/emotionnet_nano_b.onnx $M/emotionnet_nano_b.int8.onnx --json $R/deployed_int8_vs_f32.json
$PY evaluate.py agree $M/emotionnet_nano_b.onnx $M/emotionnet_nano_b.w8.onnx --json $R/deployed_w8_vs_f32.json
$PY calibrate.py $M/emotionnet_nano_b.int8.onnx --json $R/calibration.json --figure $I/coverage_accuracy.png
if [ -f $M/fer_only/emotionnet_nano_b_fer.int8.onnx ]; then
  $PY evaluate.py ck $M/fer_only/emotionnet_nano_b_fer.int8.onnx --json $R/fer_only_ck_all.json \
    --figure $I/cm_fer_only_ck_all.png --title "FER+-only Nano-B int8 on all CK+ (7-way)"
  $PY evaluate.py fer $M/fer_only/emotionnet_nano_b_fer.int8.onnx --json $R/fer_only_fer_test.json
fi
if [ -f $M/ckplus/nano_b_fold0.int8.onnx ]; then
  $PY evaluate.py folds $M/ckplus --pattern 'nano_b_fold{k}.int8.onnx' --json $R/ckplus_10fold_int8.json \
    --figure $I/cm_ckplus_10fold_int8.png --title "CK+ 10-fold, Nano-B int8 (FER+ pretrained)"
fi
if [ -f runs/ck_b_ferinit/fold0.pt ]; then
  $PY tools/ckfold_f32.py runs/ck_b_ferinit --json $R/ckplus_10fold_f32.json
fi
# CK+ 10-fold from scratch, the paper's 200-epoch schedule (GPU run, training/experiments/gpu_run.sh)
for a in b a; do
  [ -f runs/ck_${a}_scratch200/fold0.pt ] || continue
  tag=$([ $a = b ] && echo scratch200 || echo nano_a_scratch200)
  $PY tools/ckfold_f32.py runs/ck_${a}_scratch200 --json $R/ckplus_10fold_${tag}_f32.json
  ./export_folds.sh $PY runs/ck_${a}_scratch200 /tmp/ck_${a}_s200 nano_$a
  fig=""; [ $a = b ] && fig="--figure $I/cm_ckplus_10fold_scratch200_int8.png"
  $PY evaluate.py folds /tmp/ck_${a}_s200 --pattern "nano_${a}_fold{k}.int8.onnx" --json $R/ckplus_10fold_${tag}_int8.json \
    $fig --title "CK+ 10-fold, Nano-${a^^} int8, from scratch, 200 epochs"
done
# the whole chain on full frames (needs the release binary: cargo build --release)
if [ -x ../target/release/emocue ]; then
  $PY tools/chain_eval.py --json $R/chain_ck_heldout.json
  $PY tools/chain_eval.py --folds 0,1,2,3,4,5,6,7,8,9 --model $M/fer_only/emotionnet_nano_b_fer.int8.onnx --json $R/chain_fer_only_ck_all.json
fi
# what distilling from our own models could give (session 12; needs their checkpoints)
ENS="runs/gpu2/ft_fc/best.pt runs/cpu_ema/best.pt runs/up64_fc/best.pt runs/gpu2/ft_f/best.pt runs/gpu2/ft_f_hard/best.pt runs/gpu/teacher_f.half.pt"
if ls $ENS >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  $PY experiments/ensemble.py $ENS --json $R/ensemble.json
fi
