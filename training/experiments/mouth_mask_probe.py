"""Does hiding the mouth while a face talks help? (issues 18 and 19, session 23)

    cargo build --release
    python training/experiments/mouth_mask_probe.py MODEL.onnx [MODEL.onnx ...]

Writes (once) the app's crops of every 2nd frame of MEAD M030's eight acted clips and of
the report half's neutral speakers to training/.cache/talk/{mead,report_all}.npz, then
scores each model on them twice: on the crop as it is, and with the lower face (mouth
and chin) replaced by the crop's mean (`augment.mouth_mask`), and with the two views'
logits averaged ("avg"). Per M030 clip: the argmax share of the acted emotion and the most
frequent argmax; on neutral speakers: the share of frames whose argmax is an emotion
other than calm or happy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

HERE = Path(__file__).resolve().parent
TR = HERE.parent
sys.path[:0] = [str(TR), str(TR / "tools")]
import augment  # noqa: E402
import conversation_eval as conv  # noqa: E402
import data  # noqa: E402
import talk_frames as tf  # noqa: E402

ROOT = TR.parent


def extract(kind: str, out: Path, emocue: Path, rule) -> None:
    splits = json.loads((TR / "splits/talking.json").read_text())
    names, crops = [], []
    for clip in conv.find_clips([data.DATA / "videos"]):
        cid = conv.clip_id(clip)
        if kind == "mead" and "mead/" not in cid:
            continue
        if kind == "report" and ("mead/" in cid or conv.side(cid, splits) != "report"):
            continue
        y4m = conv.to_y4m(clip, Path("/tmp/emocue-clips"))
        events = conv.replay(emocue, y4m, None)
        frames = tf.grey_frames(y4m)
        step = max(2, -(-len(events) // 300))  # at most 300 faces of one clip
        for ev in events:
            i = ev["frame"]
            if i % step or i >= len(frames) or not ev["faces"]:
                continue
            face = max(ev["faces"], key=lambda f: f["box"][2])
            if not face.get("keypoints"):
                continue
            names.append(f"{cid}:{i}")
            crops.append(tf.crop(frames[i], face, rule))
        print(f"{cid}: {sum(n.startswith(cid + ':') for n in names)}", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, names=np.array(names), crops=np.stack(crops))


def run(model: Path, crops: np.ndarray, mask: bool) -> np.ndarray:
    s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    x = torch.from_numpy(crops.astype(np.float32) / 255.0)[:, None]
    if mask:
        x = augment.mouth_mask(x)
    x = augment.normalise(x).numpy()
    inp = s.get_inputs()[0]
    shape = inp.shape
    out = []
    for i in range(0, len(x), 256):
        xb = x[i : i + 256]
        if len(shape) == 4 and shape[0] == 1:
            out += [s.run(None, {inp.name: xb[j : j + 1]})[0] for j in range(len(xb))]
        else:
            out.append(s.run(None, {inp.name: xb})[0])
    return np.concatenate(out)  # logits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--emocue", type=Path, default=ROOT / "target/release/emocue")
    a = ap.parse_args()
    rule = tf.crop_rule(ROOT / "models/emotionnet_nano_b.int8.onnx")
    cache = TR / ".cache/talk"
    for kind in ("mead", "report"):
        f = cache / f"{kind}_all.npz"
        if not f.exists():
            extract(kind, f, a.emocue, rule)
    mead = np.load(cache / "mead_all.npz")
    rep = np.load(cache / "report_all.npz")
    classes = data.CLASSES
    for m in a.models:
        print(f"== {m}")
        lm = {k: run(m, mead["crops"], k) for k in (False, True)}
        lr = {k: run(m, rep["crops"], k) for k in (False, True)}
        for mask in (False, True, "avg"):
            p = lm[mask] if mask != "avg" else (lm[False] + lm[True]) / 2
            clips = np.array([n.split(":")[0] for n in mead["names"]])
            right = 0
            row = []
            for c in sorted(set(clips)):
                want = conv.label_of(Path(c).name, None)
                am = p[clips == c].argmax(1)
                top = Counter(am.tolist()).most_common(1)[0][0]
                share = float((am == classes.index(want)).mean())
                right += classes[top] == want
                row.append(f"{want[:5]}:{classes[top][:5]}({share:.2f})")
            pr = lr[mask] if mask != "avg" else (lr[False] + lr[True]) / 2
            fa = float(np.isin(pr.argmax(1), [classes.index(k) for k in classes if k not in ("neutral", "happiness")]).mean())
            print(f"  mask={mask!s:5} M030 top right {right}/8  " + " ".join(row) + f"  | report speakers non-calm/happy {fa:.3f}")


if __name__ == "__main__":
    main()
