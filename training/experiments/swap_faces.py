"""Faces whose brows and mouth disagree, labelled by a teacher that reads brows (issue 19).

    python training/experiments/swap_faces.py [--teacher face-api] [--out training/.cache/teachers/face-api/swap.npz]

While people speak, their mouths show teeth and open wide whatever they feel, and our
network reads teeth as happiness even under a furrowed brow (MEAD M030's angry clip:
"looks happy"). In-batch mouth swapping (`train.py --mouth-swap`) tells it so only
through the recipient's own label. Here every FER+ training face whose majority emotion
is one the brows and eyes carry (anger, disgust, fear, sadness, surprise) gets the
mouth of a smiling FER+ face or of a neutral speaker mid-sentence
(`talk_frames.py`), once, with `augment.mouth_swap`; the face-api teacher then labels
each composite, offline like the other cached sets (`teacher_labels.py`).

Written: `names` (recipient / donor), `crops` (uint8 N x 48 x 48), `own` (the
recipient's FER+ vote distribution, float32 N x 8) and the teacher's `probs` and `has`.
Donors come from FER+ training faces and the tuning half's speakers only; MEAD M030 and
the report half stay unseen.

Finding (session 20, docs/results.md): the teacher is no brow reader on these. It calls
45 % of the composites with a smiling donor "happy" (agreeing with the recipient's own
emotion on 33 %), and 10 % of those with a speaking donor (agreeing on 46 %), so its
labels would teach "a smile is happy" rather than "read the brows"; no training run
was made on them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

CORE = Path(__file__).resolve().parents[1]  # training/: the core modules
sys.path.insert(0, str(CORE))
import augment  # noqa: E402
import data  # noqa: E402
import teacher_labels  # noqa: E402

BROW_CLASSES = ["anger", "disgust", "fear", "sadness", "surprise"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", default="face-api", choices=sorted(teacher_labels.TEACHER_SPECS))
    ap.add_argument("--talk-faces", type=Path, default=CORE / ".cache/talk/tune.npz",
                    help="speakers' faces as extra mouth donors (talk_frames.py); skipped when absent")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    out = a.out or teacher_labels.CACHE / a.teacher / "swap.npz"

    imgs, votes, names = data.load_ferplus("train")
    soft = data.soft_labels(votes)
    maj = data.majority(votes)
    rec = np.where(np.isin(maj, [data.CLASSES.index(c) for c in BROW_CLASSES]))[0]
    don_imgs = imgs[maj == data.CLASSES.index("happiness")]
    don_names = [n for n, m in zip(names, maj) if m == data.CLASSES.index("happiness")]
    if a.talk_faces.exists():
        t = np.load(a.talk_faces)
        don_imgs = np.concatenate([don_imgs, t["crops"]])
        don_names += [str(n) for n in t["names"]]
    rng = np.random.default_rng(a.seed)
    don = rng.integers(0, len(don_imgs), len(rec))

    # mouth_swap swaps within a batch: put each recipient beside its donor
    x = torch.from_numpy(np.concatenate([imgs[rec], don_imgs[don]])[:, None].astype(np.float32) / 255)
    n = len(rec)
    y = torch.zeros(2 * n, 8)
    keep = torch.zeros(8, dtype=torch.bool)
    g = torch.Generator().manual_seed(a.seed)
    pairs = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])  # i <-> its donor
    composed, _ = augment.mouth_swap(x, y, 1.0, 0.0, keep, g, donor=pairs)
    crops = (composed[:n, 0].numpy() * 255).round().astype(np.uint8)

    print(f"swap_faces: {n} composites; labelling with {a.teacher}", file=sys.stderr)
    probs = teacher_labels.run_teacher(a.teacher, crops)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        names=np.array([f"{names[r]} / {don_names[d]}" for r, d in zip(rec, don)]),
        crops=crops,
        own=soft[rec].astype(np.float32),
        probs=probs,
        has=teacher_labels.has_classes(a.teacher),
    )
    top = np.bincount(probs.argmax(1), minlength=8)
    print("swap_faces: teacher's top class: " + ", ".join(f"{c} {k}" for c, k in zip(data.CLASSES, top)), file=sys.stderr)
    print(f"swap_faces: wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
