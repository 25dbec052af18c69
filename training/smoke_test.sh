#!/usr/bin/env bash
# CI smoke test of the training chain: one epoch on a tiny subset, ONNX export, int8
# quantization, and the result scored by onnxruntime. Minutes on 2 cores.
set -euo pipefail
PY=${1:-python}
cd "$(dirname "$0")"
# every recipe (recipes/*.toml) resolves to commands that their scripts' argparse accepts
for r in recipes/*.toml; do
  $PY train.py --config "$r" --dry-run > /dev/null || { echo "smoke: recipe $r does not resolve"; exit 1; }
done
echo "smoke: $(ls recipes/*.toml | wc -l) recipes resolve to valid commands"
if [ ! -d ../../shared/data/ferplus ] && [ -z "${EMOCUE_DATA:-}" ]; then
  . ../scripts/skip.sh
  skip "training smoke test" data "needs ../shared/data (see its README.md)" || exit 1
  exit 0
fi
OUT=$(mktemp -d)
export OUT
trap 'rm -rf "$OUT"' EXIT
$PY tools/blazeface_graph.py --self-test
# train.py --upsample: the constant MatMuls are exactly a bilinear resize; the FER+ tie rule
$PY -c "
import torch, torch.nn.functional as F
from emonet import bilinear_matrix
x = torch.rand(2, 1, 48, 48); A = bilinear_matrix(48, 64)
assert torch.allclose(A @ x @ A.T, F.interpolate(x, size=64, mode='bilinear', align_corners=False), atol=1e-5)
print('smoke: upsampling matrix = bilinear resize')
import numpy as np, data
v = np.array([[4, 0, 0, 4, 0, 0, 0, 0, 2, 0], [5, 3, 0, 0, 0, 0, 0, 0, 2, 0]])
assert data.tied(v).tolist() == [True, False] and data.majority(v).tolist() == [0, 0]
w = np.vstack([v, [[5, 1, 1, 0, 0, 0, 0, 0, 3, 0], [2, 0, 0, 0, 0, 0, 0, 0, 8, 0]]])
assert data.strict_majority(w).tolist() == [-1, -1, 0, -1]
print('smoke: tie rule')
import io, torch, augment
from PIL import Image
imgs, _, _ = data.load_ferplus('test', 16)
ours = augment.jpeg(torch.from_numpy(imgs[:, None] / 255.0).float(), torch.full((16,), 30.0))[:, 0].numpy() * 255
def pil(im):
    b = io.BytesIO(); Image.fromarray(im).save(b, 'JPEG', quality=30, subsampling=0); return np.asarray(Image.open(b))
ref = np.stack([pil(im) for im in imgs]).astype(np.float32)
assert np.abs(ours - ref).mean() < 0.5 < np.abs(ref - imgs).mean(), (np.abs(ours - ref).mean(), np.abs(ref - imgs).mean())
print('smoke: JPEG augmentation = PIL JPEG within half a grey level')
import teacher_labels
ours = np.array([[0.5, 0.1, 0.1, 0.1, 0.0, 0.0, 0.0, 0.2]])
has = teacher_labels.has_classes('facex')
t = np.zeros((1, 8)); t[0, data.CLASSES.index('disgust')] = 1.0
m = teacher_labels.as_member(ours, t, has)
assert not has[data.CLASSES.index('contempt')] and abs(m.sum() - 1) < 1e-9 and m[0, 7] == 0.2 and abs(m[0, 5] - 0.8) < 1e-9, m
print('smoke: a teacher lacking contempt keeps our share of it')
import os, train
c = np.zeros((3, 48, 48), np.uint8)
np.savez(os.environ['OUT'] + '/m.npz', crops=c, labels=np.array(['anger', 'neutral', 'contempt']))
np.savez(os.environ['OUT'] + '/n.npz', crops=c)
assert train.talk_faces(os.environ['OUT'] + '/m.npz', (48, 48))[1].tolist() == [4, 0, 7]
assert train.talk_faces(os.environ['OUT'] + '/n.npz', (48, 48))[1].tolist() == [0, 0, 0]
print('smoke: speech frames keep their labels (neutral speakers: neutral)')
import sys; sys.path.insert(0, 'tools')
import suite, talk_frames
d = {'fer-valid': {'macro_recall': 0.6, 'shown_precision': 0.9}, 'mead-m030': {'macro_recall': 0.5, 'shown_precision': 0.5}}
assert suite.worst(d) == ('mead-m030', 0.5)
suite.mark_trained(d, {'grid/x': 'neutral', 'mead/M030_a': 'anger'}, {'mead/M030_a', 'lrs2/y'})
assert d['mead-m030']['trained_on'] == ['mead/M030_a'] and suite.worst(d) == ('fer-valid', 0.6)
assert talk_frames.part_cut(97, 0.5) == 48
print('smoke: a domain the network trained on is left out of the worst domain')"
$PY train.py ferplus --arch b --epochs 1 --limit 512 --out "$OUT/run"
# a recipe stage runs, with train.py flags overriding the recipe's
$PY train.py --config recipes/nano_a.toml --stage fer_a --epochs 1 --limit 128 --runs-dir "$OUT/recipe" > /dev/null
test -s "$OUT/recipe/fer_a/best.pt" && grep -q '"epochs": 1,' "$OUT/recipe/fer_a/meta.json" && echo "smoke: recipe stage run"
# distillation from two teachers (the deployed recipe), CK+ rows on their own labels
$PY train.py ferplus --arch b --epochs 1 --limit 128 --ck-folds 0 --ck-repeat 1 --init "$OUT/run/best.pt" \
  --teacher "$OUT/run/best.pt,$OUT/run/best.pt" --kd-fer-only --kd-clean --min-agreement 0.5 \
  --erase 0.5 --mixstyle 0.5 --out "$OUT/kd" > /dev/null
test -s "$OUT/kd/best.pt" && echo "smoke: distillation from two teachers (with random erasing and MixStyle)"
$PY experiments/soup.py "$OUT/run/best.pt" "$OUT/kd/best.pt" --out "$OUT/soup/best.pt" > /dev/null
$PY -c "
import sys, torch
sys.path.insert(0, '.')
from train import load_checkpoint
m, _ = load_checkpoint('$OUT/soup/best.pt')
a, b, s = (torch.load(p, map_location='cpu', weights_only=False)['state_dict'] for p in
           ('$OUT/run/best.pt', '$OUT/kd/best.pt', '$OUT/soup/best.pt'))
k = 'fc.weight'
assert torch.allclose(s[k], (a[k] + b[k]) / 2), 'soup is not the mean'
print('smoke: weight soup is the mean of its checkpoints')"
$PY export.py "$OUT/run/best.pt" --name smoke --out-dir "$OUT/models" --int8 --limit 256 --calib-n 128
# a checkpoint recovered from the shipped form computes what the file does (from_onnx.py checks)
$PY from_onnx.py "$OUT/models/smoke.onnx" "$OUT/recovered/best.pt" --limit 256 --calib-n 128
$PY from_onnx.py "$OUT/models/smoke.int8.onnx" "$OUT/recovered_int8/best.pt" --limit 256 --calib-n 128
$PY - "$OUT/models/smoke.int8.onnx" <<'PYEOF'
import sys, numpy as np, onnx, onnxruntime as ort
path = sys.argv[1]
meta = {p.key: p.value for p in onnx.load(path).metadata_props}
assert meta["labels"].split(",")[1] == "happiness", meta
s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
y = s.run(None, {"input": np.zeros((3, 1, 48, 48), np.float32)})[0]
assert y.shape == (3, 8) and np.isfinite(y).all(), y
print("smoke: int8 model loads and runs:", y.shape)
PYEOF
