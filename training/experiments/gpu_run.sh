#!/usr/bin/env bash
# One prepared run for a lent GPU machine (one H100/H200, 16 cores): everything that
# needs more than two CPU cores, in parallel, inside a fixed wall-clock budget.
#
#   python training/pack_data.py .gpu/pack        # here: the data, lossless (~52 MB)
#   training/experiments/gpu_run.sh OUTDIR                    # there, with .gpu carried
#   DRY=1 training/experiments/gpu_run.sh /tmp/dry            # CPU rehearsal: tiny budgets
#
# Phase 1 (~170 s): two distillation teachers (FER+ with CK+ folds 0-7; FER+ only),
#   a long-schedule Nano-B on FER+ alone, and CK+ 10-fold from scratch with the paper's
#   full 200-epoch schedule for Nano-B and Nano-A (four fold loops).
# Phase 2 (~260 s): Nano-B students distilled from each teacher on the same augmented
#   views, selected on FER2013Valid. The schedules are cosine over wall-clock time
#   (train.py --time-budget); each log.jsonl records the epochs reached.
# Everything that comes back is tarred into OUTDIR (checkpoints and logs, no images).
set -uo pipefail
cd "$(dirname "$0")/.."  # training/: train.py and the runs/ folder
OUT=${1:?usage: experiments/gpu_run.sh OUTDIR}
mkdir -p "$OUT"
PY=${PY:-python3}
export EMOCUE_PACK=${EMOCUE_PACK:-$(cd .. && pwd)/.gpu/pack}
export PYTHONUNBUFFERED=1
R=runs/gpu
mkdir -p $R
if [ -n "${DRY:-}" ]; then
  DEV=cpu; T1=12; T2=12; CKEP=2; EXTRA="--limit 400"; CAP=3; WIDTH=8
else
  DEV=cuda; T1=${T1:-170}; T2=${T2:-260}; CKEP=200; EXTRA=""; CAP=1000; WIDTH=48
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi
$PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"
COMMON="--device $DEV --threads 1 $EXTRA"
t0=$(date +%s)
status() { # one line per run: last epoch and best FER2013Valid / fold accuracy so far
  for f in $R/*/log.jsonl; do
    [ -f "$f" ] || continue
    $PY - "$f" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if rows:
    print(f"  {sys.argv[1]:40s} ep {rows[-1]['epoch']:4d} best {max(r['val_acc'] for r in rows):.4f}")
PYEOF
  done
  echo "  CK+ folds done: b $(ls $R/ck_b_scratch/f*/fold*_pred.npz 2>/dev/null | wc -l)/10, a $(ls $R/ck_a_scratch/f*/fold*_pred.npz 2>/dev/null | wc -l)/10"
}
ckloop() { # arch, folds...
  local arch=$1; shift
  for k in "$@"; do
    timeout 400 $PY train.py ckfold --arch $arch --fold $k --epochs $CKEP $COMMON --out $R/ck_${arch}_scratch/f$k \
      >> $R/ck_${arch}_scratch.log 2>&1
  done
}
# ---- phase 1
timeout $((T1 + 60)) $PY train.py ferplus --arch teacher --width $WIDTH --bs 256 --epochs $CAP --time-budget $T1 \
  --ck-folds 0-7 $COMMON --out $R/teacher_fc > $R/teacher_fc.log 2>&1 &
timeout $((T1 + 60)) $PY train.py ferplus --arch teacher --width $WIDTH --bs 256 --epochs $CAP --time-budget $T1 \
  $COMMON --out $R/teacher_f > $R/teacher_f.log 2>&1 &
timeout $((T1 + T2 + 60)) $PY train.py ferplus --arch b --epochs $CAP --time-budget $((T1 + T2)) \
  $COMMON --out $R/fer_b_long > $R/fer_b_long.log 2>&1 &
ckloop b 0 2 4 6 8 & ckloop b 1 3 5 7 9 &
ckloop a 0 2 4 6 8 & ckloop a 1 3 5 7 9 &
while [ ! -f $R/teacher_fc/best.pt ] || [ ! -f $R/teacher_f/best.pt ] || pgrep -f "arch teacher" >/dev/null; do
  sleep 15; echo "t=$(( $(date +%s) - t0 ))s"; status
  [ $(( $(date +%s) - t0 )) -gt $((T1 + 90)) ] && break
done
# ---- phase 2
for t in fc f; do
  [ -f $R/teacher_$t/best.pt ] || { echo "teacher_$t missing: no student for it"; continue; }
  ck=""; [ $t = fc ] && ck="--ck-folds 0-7"
  timeout $((T2 + 60)) $PY train.py ferplus --arch b --epochs $CAP --time-budget $T2 --teacher $R/teacher_$t/best.pt \
    $ck $COMMON --out $R/kd_$t > $R/kd_$t.log 2>&1 &
done
[ -f $R/teacher_fc/best.pt ] && timeout $((T2 + 60)) $PY train.py ferplus --arch b --epochs $CAP --time-budget $T2 \
  --teacher $R/teacher_fc/best.pt --kd-alpha 0.9 --ck-folds 0-7 --rot 8 --zoom 1.1 --cam-p 0.1 $COMMON \
  --out $R/kd_fc_mild > $R/kd_fc_mild.log 2>&1 &
while pgrep -f "train.py" >/dev/null; do
  sleep 20; echo "t=$(( $(date +%s) - t0 ))s"; status
  if [ $(( $(date +%s) - t0 )) -gt $((T1 + T2 + 90)) ]; then
    echo "deadline: stopping what still runs"; pkill -f train.py; sleep 3; break
  fi
done
echo "done at t=$(( $(date +%s) - t0 ))s"; status
# ---- pack what comes back (no images; teachers' weights stay there)
tar cf "$OUT/students.tar" --exclude='teacher_*/best.pt' $R/*.log $R/kd_* $R/fer_b_long $R/teacher_*/log.jsonl $R/teacher_*/meta.json 2>/dev/null
tar cf "$OUT/ck_b.tar" --exclude=best.pt $R/ck_b_scratch 2>/dev/null
tar cf "$OUT/ck_a.tar" --exclude=best.pt $R/ck_a_scratch 2>/dev/null
for t in fc f; do  # teachers in half precision (12 MB each), for scoring them on FER2013Test here
  [ -f $R/teacher_$t/best.pt ] && $PY -c "
import sys, torch
ck = torch.load(sys.argv[1], map_location='cpu')
ck['state_dict'] = {k: (v.half() if v.is_floating_point() else v) for k, v in ck['state_dict'].items()}
torch.save(ck, sys.argv[2])" $R/teacher_$t/best.pt "$OUT/teacher_$t.half.pt"
done
ls -la "$OUT"
