"""Which views should a still photo average over? Scores sets of shifted and zoomed copies
of each crop on FER2013Valid only (the selection split), mirror-averaged like the app.
The chosen set, one-pixel shifts in four directions (`VIEWS` in evaluate.py), is what
`emocue classify` uses; FER2013Test is scored once, by `evaluate.py fer` (`still_views`).

    python experiments/views_sweep.py ../models/emotionnet_nano_b.int8.onnx
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

import sys
from pathlib import Path
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]  # training/ (the core modules) and training/tools/, from any working directory

import data
import evaluate

# (zoom, dx, dy): zoom > 1 enlarges the face; shifts in crop pixels, borders repeat the edge
SETS = {
    "one view (live)": [(1, 0, 0)],
    "+/-1 px, 4 directions (chosen)": [(1, 0, 0), (1, -1, 0), (1, 1, 0), (1, 0, -1), (1, 0, 1)],
    "+/-1 px, 8 neighbours": [(1, 0, 0)] + [(1, u, v) for u in (-1, 0, 1) for v in (-1, 0, 1) if u or v],
    "+/-0.5 px, 4 directions": [(1, 0, 0), (1, -0.5, 0), (1, 0.5, 0), (1, 0, -0.5), (1, 0, 0.5)],
    "+/-1.5 px, 4 directions": [(1, 0, 0), (1, -1.5, 0), (1, 1.5, 0), (1, 0, -1.5), (1, 0, 1.5)],
    "+/-1 px, vertical only": [(1, 0, 0), (1, 0, -1), (1, 0, 1)],
    "zoom x1.08 and x0.93": [(1, 0, 0), (1.08, 0, 0), (0.93, 0, 0)],
}


def warp(imgs: np.ndarray, zoom: float, dx: float, dy: float) -> np.ndarray:
    c = (imgs.shape[1] - 1) / 2
    off = [c - c / zoom + dy / zoom, c - c / zoom + dx / zoom]
    m = np.eye(2) / zoom
    out = [ndimage.affine_transform(im.astype(np.float32), m, offset=off, order=1, mode="nearest") for im in imgs]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    a = ap.parse_args()
    s, _ = evaluate.session(a.model)
    imgs, votes, _ = data.load_ferplus("valid")
    maj = data.majority(votes)
    x, y = imgs[maj >= 0], maj[maj >= 0]
    cache: dict = {}
    for name, views in SETS.items():
        total = 0
        for v in views:
            if v not in cache:
                cache[v] = evaluate.logits(s, x if v == (1, 0, 0) else warp(x, *v))
            total = total + cache[v]
        print(f"{name:32s} FER2013Valid {100 * (total.argmax(1) == y).mean():.2f} %", flush=True)


if __name__ == "__main__":
    main()
