#!/usr/bin/env bash
# Session 24's prepared GPU run (issue 18): which recipe transfers to people and
# domains it never saw? Every candidate is scored afterwards on the CPU, through the
# app (tools/suite.py) and across datasets (tools/crossdata.py); nothing is selected here.
#
#   python training/pack_data.py .gpu/pack --jpeg 90 --valid-limit 1800 --lfw   # here (39 MB)
#   training/experiments/gpu_s24.sh --stage .gpu                   # here: caches and inits into .gpu
#   training/experiments/gpu_s24.sh OUTDIR                          # there, with .gpu carried
#   DRY=1 training/experiments/gpu_s24.sh /tmp/dry_s24              # CPU rehearsal: tiny budgets
#
# Phase 1 (TA s), all at once on the one GPU:
#   fo_*   FER+ only, for the transfer check (FER+ only -> CK+, issue 18's 85 % bar):
#          fo_ctl the control (warm from the shipped FER+-only network, same recipe);
#          fo_fa  face-api's cached labels at 0.7 on FER+ and on the 13,682 lfw faces
#                 (more identities); fo_fa_bal the same with stronger class balance;
#          fo_scr the same as fo_fa from scratch (a warm start keeps the old biases).
#   dep_*  shippable (FER+ + CK+ folds 0-7 + neutral speakers of the tuning half, warm
#          from the shipped network): dep_ctl the control; dep_fa face-api at 0.5 with
#          the lfw faces and mouth swap.
#   teacher  a ResNet-18-shaped network on the dep_fa data (TT s).
# Phase 2 (TB s): dep_kd, distilled from that teacher (0.5) with face-api in its targets.
set -uo pipefail
[ "${1:-}" = "--stage" ] && { mkdir -p "${2:?usage: gpu_s24.sh --stage DIR}"; STAGE=$(cd "$2" && pwd); }
cd "$(dirname "$0")/.."  # training/
PY=${PY:-python3}
if [ "${1:-}" = "--stage" ]; then  # gather what the run needs into the carried folder
  G=$STAGE
  mkdir -p "$G/cache/teachers/face-api" "$G/cache/talk" "$G/init"
  cp .cache/teachers/face-api/{fer-train,lfw}.npz "$G/cache/teachers/face-api/" || exit 1
  cp .cache/talk/tune.npz "$G/cache/talk/" || exit 1
  [ -f runs/deployed/best.pt ] || $PY from_onnx.py ../models/emotionnet_nano_b.onnx runs/deployed/best.pt || exit 1
  [ -f runs/ft_f_rec/best.pt ] || $PY from_onnx.py ../models/fer_only/emotionnet_nano_b_fer.int8.onnx runs/ft_f_rec/best.pt || exit 1
  cp runs/deployed/best.pt "$G/init/deployed.pt"; cp runs/ft_f_rec/best.pt "$G/init/fer_only.pt"
  du -sh "$G"; exit 0
fi
OUT=${1:?usage: experiments/gpu_s24.sh OUTDIR}
mkdir -p "$OUT"
G=$(cd .. && pwd)/.gpu
export EMOCUE_PACK=${EMOCUE_PACK:-$G/pack}
export PYTHONUNBUFFERED=1
mkdir -p .cache/teachers/face-api
cp -n "$G"/cache/teachers/face-api/*.npz .cache/teachers/face-api/ 2>/dev/null
TALK=$G/cache/talk/tune.npz
DEP=$G/init/deployed.pt
FO=$G/init/fer_only.pt
R=runs/gpu_s24
rm -rf $R; mkdir -p $R
if [ -n "${DRY:-}" ]; then
  DEV=cpu; TA=15; TT=8; TB=8; EXTRA="--limit 300"; CAP=2; WIDTH=8
else
  DEV=cuda; TA=${TA:-330}; TT=${TT:-170}; TB=${TB:-150}; EXTRA=""; CAP=1000; WIDTH=48
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
C="--device $DEV --threads 1 --epochs $CAP $EXTRA"
MILD="--rot 8 --zoom 1.1 --cam-p 0.1"
FA="--teacher-cache face-api --extra-faces lfw"
t0=$(date +%s)
go() { # NAME SECONDS ARGS...: one background run, its output in $R/NAME.log
  local name=$1 secs=$2; shift 2
  timeout $((secs + 60)) $PY train.py ferplus "$@" $C --time-budget "$secs" --out $R/$name > $R/$name.log 2>&1 &
}
go fo_ctl $TA --init $FO --lr 5e-4 $MILD
go fo_fa $TA --init $FO --lr 5e-4 $MILD $FA --kd-alpha 0.7
go fo_fa_bal $TA --init $FO --lr 5e-4 $MILD $FA --kd-alpha 0.7 --balance-power 0.5 --max-weight 5
go fo_scr $TA --lr 1e-3 $FA --kd-alpha 0.7
go dep_ctl $TA --init $DEP --lr 5e-4 $MILD --ck-folds 0-7 --talk-faces $TALK
go dep_fa $TA --init $DEP --lr 5e-4 $MILD --ck-folds 0-7 --talk-faces $TALK $FA --kd-alpha 0.5 --mouth-swap 0.3
timeout $((TT + 60)) $PY train.py ferplus --arch teacher --width $WIDTH --bs 256 --lr 1e-3 $C --time-budget $TT \
  --ck-folds 0-7 --talk-faces $TALK $FA --kd-alpha 0.3 --mouth-swap 0.3 --out $R/teacher > $R/teacher.log 2>&1
echo "teacher done at t=$(( $(date +%s) - t0 ))s"
if [ -f $R/teacher/best.pt ]; then
  go dep_kd $TB --init $DEP --lr 5e-4 $MILD --ck-folds 0-7 --talk-faces $TALK $FA --kd-alpha 0.5 --mouth-swap 0.3 \
    --teacher $R/teacher/best.pt
else
  echo "no teacher checkpoint"; tail -n 20 $R/teacher.log
fi
wait
echo "all done at t=$(( $(date +%s) - t0 ))s"
for d in $R/*/; do
  $PY -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1]+'log.jsonl') if l.strip()]; print(sys.argv[1], 'epochs', r[-1]['epoch'], 'best valid', round(max(x['val_acc'] for x in r), 4))" "$d" 2>/dev/null \
    || { echo "$d: no log"; tail -n 5 "${d%/}.log"; }
done
tar cf "$OUT/s24.tar" --exclude='teacher/best.pt' $R
$PY -c "
import sys, torch
ck = torch.load(sys.argv[1], map_location='cpu')
ck['state_dict'] = {k: (v.half() if v.is_floating_point() else v) for k, v in ck['state_dict'].items()}
torch.save(ck, sys.argv[2])" $R/teacher/best.pt "$OUT/teacher.half.pt" 2>/dev/null || echo "no teacher to pack"
ls -la "$OUT"
