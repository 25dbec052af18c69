"""Pack the shared data into a few lossless PNG mosaics for a machine that cannot see
../shared/data (the lent GPU machine; see experiments/gpu_run.sh). The pack stays out of git.

    python training/pack_data.py .gpu/pack          # FER+ train/valid + all of CK+
    EMOCUE_PACK=.gpu/pack python training/train.py ...   # data.py reads the pack
    python training/pack_data.py .gpu/pack --jpeg 90 --valid-limit 1800 --lfw
        # the same with faces-lfw-bollywood, small enough to travel (45 MB)

Images are tiled 64 to a row and written as PNG (lossless, ~70% of raw); labels,
votes and CK+ subjects go into one small npz. The device tool carries at most 64 MiB
with the repository, so `--jpeg Q` writes the FER+ training faces and the lfw faces
as JPEG mosaics (quality 90: 2.2 grey levels mean error, about what the camera
augmentation adds anyway); validation and CK+ stay lossless.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import data

COLS = 64


def write_mosaic(path: Path, imgs: np.ndarray, jpeg: int = 0) -> Path:
    """Writes the tiles as PNG, or as JPEG of this quality (the suffix says which)."""
    n = len(imgs)
    rows = (n + COLS - 1) // COLS
    pad = np.zeros((rows * COLS, 48, 48), np.uint8)
    pad[:n] = imgs
    mos = pad.reshape(rows, COLS, 48, 48).transpose(0, 2, 1, 3).reshape(rows * 48, COLS * 48)
    if jpeg:
        path = path.with_suffix(".jpg")
        Image.fromarray(mos).save(path, "JPEG", quality=jpeg, subsampling=0)
    else:
        Image.fromarray(mos).save(path, "PNG", optimize=True)
    return path


def read_mosaic(path: Path, n: int) -> np.ndarray:
    """The first n tiles of a mosaic; a `.png` path also finds its `.jpg` twin."""
    if not path.exists() and path.with_suffix(".jpg").exists():
        path = path.with_suffix(".jpg")
    mos = np.asarray(Image.open(path).convert("L"))
    rows = mos.shape[0] // 48
    tiles = mos.reshape(rows, 48, COLS, 48).transpose(0, 2, 1, 3).reshape(rows * COLS, 48, 48)
    return np.ascontiguousarray(tiles[:n])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--splits", default="train,valid")
    ap.add_argument("--jpeg", type=int, default=0, help="JPEG quality for the FER+ training and lfw mosaics (0: lossless PNG)")
    ap.add_argument("--valid-limit", type=int, default=0, help="keep only the first N FER2013Valid faces")
    ap.add_argument("--lfw", action="store_true", help="add faces-lfw-bollywood (all faces, names for the cached teacher labels)")
    a = ap.parse_args()
    if not 0 <= a.jpeg <= 100 or a.valid_limit < 0:
        ap.error("--jpeg takes a quality of 1 to 100 (0: lossless PNG), --valid-limit a count of 0 or more")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for split in a.splits.split(","):
        imgs, votes, names = data.load_ferplus(split, a.valid_limit or None if split == "valid" else None)
        write_mosaic(out / f"fer_{split}.png", imgs, a.jpeg if split == "train" else 0)
        meta[f"fer_{split}_votes"] = votes.astype(np.uint8)
        meta[f"fer_{split}_names"] = np.asarray(names)
    imgs, labels, subjects, paths = data.load_ckplus()
    write_mosaic(out / "ck.png", imgs)
    meta.update(ck_labels=labels, ck_subjects=subjects, ck_paths=np.asarray(paths))
    if a.lfw:
        lfw_names, lfw = data.load_lfw()
        write_mosaic(out / "lfw.png", lfw, a.jpeg)
        meta["lfw_names"] = np.asarray(lfw_names)
    np.savez_compressed(out / "meta.npz", **meta)
    # round trip check: the pack must be exact
    back = data.load_ckplus_pack(out)
    assert (back[0] == imgs).all() and (back[1] == labels).all()
    print("packed", sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
    main()
