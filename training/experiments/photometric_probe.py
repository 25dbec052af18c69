"""Does a per-crop photometric normalisation carry a network across datasets, with no
retraining? Scores a network on FER2013Test (majority) and all CK+ 7-way, with each crop's grey levels left alone, standardised to
FER+'s mean contrast, or equalised (global histogram) or stretched (1 % autocontrast), and prints per-set
statistics of the crops so the domains' photometric gap is visible.

    python experiments/photometric_probe.py ../models/fer_only/emotionnet_nano_b_fer.int8.onnx
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]

import data
import evaluate


def standardise(imgs: np.ndarray, mean: float, std: float) -> np.ndarray:
    x = imgs.astype(np.float32)
    m = x.mean((1, 2), keepdims=True)
    s = x.std((1, 2), keepdims=True) + 1e-3
    return np.clip((x - m) / s * std + mean, 0, 255).round().astype(np.uint8)


def equalise(imgs: np.ndarray) -> np.ndarray:
    out = np.empty_like(imgs)
    for i, im in enumerate(imgs):
        h = np.bincount(im.ravel(), minlength=256).cumsum()
        lut = np.round((h - h.min()) / max(h[-1] - h.min(), 1) * 255).astype(np.uint8)
        out[i] = lut[im]
    return out


def autocontrast(imgs: np.ndarray, cutoff: float = 1.0) -> np.ndarray:
    from PIL import Image, ImageOps

    return np.stack([np.asarray(ImageOps.autocontrast(Image.fromarray(im), cutoff=cutoff)) for im in imgs])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--json")
    a = ap.parse_args()
    fer_train, _, _ = data.load_ferplus("train")
    ft = fer_train.astype(np.float32)
    M, S = float(ft.mean((1, 2)).mean()), float(ft.std((1, 2)).mean())
    fi, fv, _ = data.load_ferplus("test")
    keep = ~np.isin(fv.argmax(1), [8, 9])
    fi, fy = fi[keep], data.majority(fv[keep])
    ci, cy, _, _ = data.load_ckplus()
    sets = {"fer_test": (fi, fy), "ck_all": (ci, cy)}
    stats = {k: (float(v[0].astype(np.float32).mean()), float(v[0].astype(np.float32).std((1, 2)).mean())) for k, v in sets.items()}
    stats["fer_train"] = (M, S)
    print("per-crop mean / std of grey levels:", {k: (round(m, 1), round(s, 1)) for k, (m, s) in stats.items()})
    transforms = {
        "none": lambda x: x,
        "standardise": lambda x: standardise(x, M, S),
        "equalise": equalise,
        "autocontrast": autocontrast,
    }
    out = {}
    for mp in a.models:
        s, labels = evaluate.session(mp)
        neutral = labels.index("neutral")
        res = {}
        for tn, t in transforms.items():
            row = {}
            for sn, (im, y) in sets.items():
                lg = evaluate.logits(s, t(im))
                if sn == "ck_all":
                    lg[:, neutral] = -1e9  # 7-way: CK+ has no neutral
                p = lg.argmax(1)
                row[sn] = round(float((p == y).mean()) * 100, 2)
                row[sn + "_macro"] = round(data.mean_recall(p, y) * 100, 2)
            res[tn] = row
            print(Path(mp).name, tn, row, flush=True)
        out[mp] = res
    if a.json:
        Path(a.json).write_text(json.dumps({"stats": stats, "results": out}, indent=1))


if __name__ == "__main__":
    main()
