"""Pack the shared data into a few lossless PNG mosaics for a machine that cannot see
../shared/data (the lent GPU machine; see experiments/gpu_run.sh). The pack stays out of git.

    python training/pack_data.py .gpu/pack          # FER+ train/valid + all of CK+
    EMOCUE_PACK=.gpu/pack python training/train.py ...   # data.py reads the pack

Images are tiled 64 to a row and written as PNG (lossless, ~70% of raw); labels,
votes and CK+ subjects go into one small npz.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import data

COLS = 64


def write_mosaic(path: Path, imgs: np.ndarray) -> None:
    n = len(imgs)
    rows = (n + COLS - 1) // COLS
    pad = np.zeros((rows * COLS, 48, 48), np.uint8)
    pad[:n] = imgs
    mos = pad.reshape(rows, COLS, 48, 48).transpose(0, 2, 1, 3).reshape(rows * 48, COLS * 48)
    Image.fromarray(mos).save(path, "PNG", optimize=True)


def read_mosaic(path: Path, n: int) -> np.ndarray:
    mos = np.asarray(Image.open(path).convert("L"))
    rows = mos.shape[0] // 48
    tiles = mos.reshape(rows, 48, COLS, 48).transpose(0, 2, 1, 3).reshape(rows * COLS, 48, 48)
    return np.ascontiguousarray(tiles[:n])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--splits", default="train,valid")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for split in a.splits.split(","):
        imgs, votes, names = data.load_ferplus(split)
        write_mosaic(out / f"fer_{split}.png", imgs)
        meta[f"fer_{split}_votes"] = votes.astype(np.uint8)
        meta[f"fer_{split}_names"] = np.asarray(names)
    imgs, labels, subjects, paths = data.load_ckplus()
    write_mosaic(out / "ck.png", imgs)
    meta.update(ck_labels=labels, ck_subjects=subjects, ck_paths=np.asarray(paths))
    np.savez_compressed(out / "meta.npz", **meta)
    # round trip check: the pack must be exact
    back = data.load_ckplus_pack(out)
    assert (back[0] == imgs).all() and (back[1] == labels).all()
    print("packed", sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
    main()
