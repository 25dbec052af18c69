"""Accuracy on degraded faces: what a real camera does to a crop (issue 8, point 2).

    python training/tools/robustness.py MODEL... [--json OUT] [--markdown]

Each condition degrades the 48x48 test crops the way a camera or a photo's journey does,
with PIL and numpy rather than the training augmentation's own code (augment.py), so a
model is not scored on the exact artefacts it was trained on: Gaussian blur, a small face
(downscaled, then upscaled by the crop), sensor noise, real JPEG encoding (PIL, quality
30 and 10), low light (dim exposure with the noise that comes with it), gamma and low
contrast. Every condition is seeded, so two runs print the same numbers.

Scored sets: FER2013Test under the reported majority rule (first tied column), and CK+
7-way (neutral excluded) on the subject folds 8-9, which neither the deployed model nor
a FER+-only model trained on (`--ck-folds 0-9`: all 981 images, for FER+-only models). MODEL is an ONNX file or a `runs/*/best.pt` checkpoint,
mirror-averaged like the app (crossdata.Model).
"""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
from PIL import Image, ImageFilter

import sys
from pathlib import Path
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]  # training/ (the core modules) and training/tools/, from any working directory

import data
from crossdata import Model, acc
from train import parse_folds


def _pil(imgs: np.ndarray, fn) -> np.ndarray:
    return np.stack([np.asarray(fn(Image.fromarray(im))) for im in imgs])


def blur(radius: float):
    return lambda imgs, rng: _pil(imgs, lambda im: im.filter(ImageFilter.GaussianBlur(radius)))


def small(side: int):
    """A face `side` pixels across, upscaled by the crop to 48."""
    return lambda imgs, rng: _pil(imgs, lambda im: im.resize((side, side), Image.BOX).resize((48, 48), Image.BILINEAR))


def jpeg(quality: int):
    def enc(im: Image.Image) -> Image.Image:
        b = io.BytesIO()
        im.save(b, "JPEG", quality=quality)
        return Image.open(b)

    return lambda imgs, rng: _pil(imgs, enc)


def exposure(gain: float, sigma: float):
    """A fraction of the exposure (1: unchanged) with sensor noise, then 8-bit."""
    return lambda imgs, rng: np.clip(imgs * gain + rng.normal(0, sigma, imgs.shape), 0, 255).round().astype(np.uint8)


def gamma(g: float):
    return lambda imgs, rng: (255 * (imgs / 255.0) ** g).round().astype(np.uint8)


def contrast(c: float):
    def fn(imgs, rng):
        m = imgs.reshape(len(imgs), -1).mean(1)[:, None, None]
        return np.clip((imgs - m) * c + m, 0, 255).round().astype(np.uint8)

    return fn


CONDITIONS = {
    "clean": lambda imgs, rng: imgs,
    "blur σ 1 px": blur(1.0),
    "blur σ 2 px": blur(2.0),
    "face 24 px": small(24),
    "face 16 px": small(16),
    "noise σ 8": exposure(1.0, 8),
    "noise σ 16": exposure(1.0, 16),
    "JPEG q 30": jpeg(30),
    "JPEG q 10": jpeg(10),
    "low light (×0.25, noise σ 3)": exposure(0.25, 3),
    "gamma 2 (dark)": gamma(2.0),
    "gamma 0.5 (washed out)": gamma(0.5),
    "contrast ×0.4": contrast(0.4),
}


def test_sets(ck_folds: list[int]):
    fer, votes, _ = data.load_ferplus("test")
    maj = data.majority(votes)
    keep = maj >= 0
    ck, lab, sub, _ = data.load_ckplus()
    fmap = data.load_folds()
    held = np.array([fmap[s] in ck_folds for s in sub])
    return (fer[keep], maj[keep]), (ck[held], lab[held])


def degraded(sets):
    """Each condition's copy of the test sets, made once for every model scored."""
    (fer, fer_y), (ck, ck_y) = sets
    for i, (name, fn) in enumerate(CONDITIONS.items()):
        rng = np.random.default_rng(i)
        yield name, (fn(fer, rng), fer_y), (fn(ck, rng), ck_y)


def score(m: Model, name: str, fer_set, ck_set) -> dict:
    (fer, fer_y), (ck, ck_y) = fer_set, ck_set
    ck_idx = [m.labels.index(c) for c in data.CK_CLASSES]
    y7 = np.array([data.CK_CLASSES.index(data.CLASSES[label]) for label in ck_y])
    out = {"fer_test": acc(m.logits(fer).argmax(1), fer_y), "ck_7way": acc(m.logits(ck)[:, ck_idx].argmax(1), y7)}
    print(json.dumps({"model": m.path, "condition": name, **out}, ensure_ascii=False), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--ck-folds", default="8,9", help="CK+ subject folds to score (e.g. 8,9 or 0-9)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", action="store_true", help="print a table for docs/results.md")
    a = ap.parse_args()
    folds = parse_folds(a.ck_folds)
    sets = test_sets(folds)
    models = [Model(p) for p in a.models]
    res: dict = {p: {} for p in a.models}
    for name, fer_set, ck_set in degraded(sets):
        for m in models:
            res[m.path][name] = score(m, name, fer_set, ck_set)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1, ensure_ascii=False)
    if a.markdown:
        ck = "all CK+" if len(folds) == 10 else "CK+ folds " + ",".join(map(str, folds))
        print("| condition | " + " | ".join(f"`{p}` FER2013Test / {ck}" for p in a.models) + " |")
        print("|---" * (len(a.models) + 1) + "|")
        for c in CONDITIONS:
            cells = [f"{100 * res[p][c]['fer_test']:.1f} / {100 * res[p][c]['ck_7way']:.1f} %" for p in a.models]
            print(f"| {c} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
