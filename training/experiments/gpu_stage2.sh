#!/usr/bin/env bash
# Second GPU run (after experiments/gpu_run.sh): warm restarts from the long FER+ Nano-B
# (runs/gpu/fer_b_long), three at once, 185 s each on one H200, milder augmentation:
#   ft_fc      FER+ with CK+ folds 0-7 (the deployed model, models/emotionnet_nano_b.*)
#   ft_f       FER+ only (models/fer_only/, the cross-dataset model)
#   ft_f_hard  FER+ only, majority labels instead of the vote distribution (ablation)
#   training/experiments/gpu_stage2.sh OUTDIR      # there, with .gpu and runs/gpu/fer_b_long carried
set -uo pipefail
cd "$(dirname "$0")/.."  # training/: train.py and the runs/ folder
OUT=${1:?usage: experiments/gpu_stage2.sh OUTDIR}
export EMOCUE_PACK=${EMOCUE_PACK:-$(cd .. && pwd)/.gpu/pack} PYTHONUNBUFFERED=1
PY=${PY:-python3}
R=runs/gpu2
mkdir -p $R "$OUT"
C="--device ${DEV:-cuda} --threads 1 --epochs 1000 --time-budget ${T:-185} --lr 5e-4 --init runs/gpu/fer_b_long/best.pt --rot 8 --zoom 1.1 --cam-p 0.1"
timeout $((${T:-185} + 40)) $PY train.py ferplus $C --out $R/ft_f > $R/ft_f.log 2>&1 &
timeout $((${T:-185} + 40)) $PY train.py ferplus $C --ck-folds 0-7 --out $R/ft_fc > $R/ft_fc.log 2>&1 &
timeout $((${T:-185} + 40)) $PY train.py ferplus $C --hard-labels --out $R/ft_f_hard > $R/ft_f_hard.log 2>&1 &
wait
for f in $R/*.log; do echo $f; tail -n 3 $f; done
tar cf "$OUT/gpu2.tar" $R
