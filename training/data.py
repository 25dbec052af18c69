"""Datasets from ../shared/data: FER+ (votes) and CK+48 (subject folds).

Everything is loaded into memory as uint8 arrays (N, 48, 48): the sets are small, and
augmentation runs batched in torch, which keeps a 2-core machine busy with math
instead of with Python image decoding.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(os.environ.get("EMOCUE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

# Output order of every model we ship (FER+ column order). Keys are what the app and
# the clinician profiles use.
CLASSES = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
# The paper's 7 CK+ classes, in the order we report them.
CK_CLASSES = ["anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"]
CK_FOLDER_TO_KEY = {"happy": "happiness"}
FER_SPLITS = {"train": "FER2013Train", "valid": "FER2013Valid", "test": "FER2013Test"}


def require(path: Path) -> Path:
    if not path.exists():
        raise SystemExit(
            f"dataset not found: {path}\n"
            "Put the shared data at ../shared/data (see its README.md) or set EMOCUE_DATA."
        )
    return path


def load_gray(path: Path) -> np.ndarray:
    img = Image.open(path).convert("L")
    if img.size != (48, 48):
        img = img.resize((48, 48), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


_cache: dict = {}


# A packed copy of the data (pack_data.py) for machines without ../shared/data.
PACK = os.environ.get("EMOCUE_PACK")


def _pack_meta(pack: Path):
    return np.load(pack / "meta.npz")


def load_ferplus(split: str, limit: int | None = None):
    """Returns (images uint8 N×48×48, votes float32 N×10, names).

    Votes columns: 8 emotions in CLASSES order, then unknown, NF.
    """
    key = ("fer", split, limit)
    if key in _cache:
        return _cache[key]
    if PACK:
        from pack_data import read_mosaic

        m = _pack_meta(Path(PACK))
        votes = m[f"fer_{split}_votes"].astype(np.float32)
        names = list(m[f"fer_{split}_names"])
        images = read_mosaic(Path(PACK) / f"fer_{split}.png", len(votes))
        if limit:
            images, votes, names = images[:limit], votes[:limit], names[:limit]
        _cache[key] = (images, votes, names)
        return _cache[key]
    folder = require(DATA / "ferplus" / FER_SPLITS[split])
    names, votes = [], []
    with open(folder / "label.csv", newline="") as f:
        for row in csv.reader(f):
            if not row:
                continue
            names.append(row[0])
            votes.append([float(v) for v in row[2:12]])
            if limit and len(names) >= limit:
                break
    images = np.stack([load_gray(folder / n) for n in names])
    out = (images, np.asarray(votes, dtype=np.float32), names)
    _cache[key] = out
    return out


def load_lfw() -> tuple[list[str], np.ndarray]:
    """faces-lfw-bollywood as (names relative to the data root, uint8 N×48×48), from the
    shared data or from a pack made with `pack_data.py --lfw`."""
    if "lfw" in _cache:
        return _cache["lfw"]
    if PACK:
        from pack_data import read_mosaic

        m = _pack_meta(Path(PACK))
        if "lfw_names" not in m:
            raise SystemExit(f"{PACK} has no lfw faces: make it with pack_data.py --lfw")
        names = list(m["lfw_names"])
        out = (names, read_mosaic(Path(PACK) / "lfw.png", len(names)))
    else:
        folder = require(DATA / "faces-lfw-bollywood")
        with open(folder / "labels.csv", newline="") as f:
            rel = [str((folder / r["path"]).relative_to(DATA)) for r in csv.DictReader(f)]
        out = (rel, np.stack([load_gray(DATA / r) for r in rel]))
    _cache["lfw"] = out
    return out


def load_faces(names: list[str]) -> np.ndarray:
    """48×48 crops of these faces (names relative to the data root); a pack serves the
    lfw faces it holds."""
    if PACK:
        lfw_names, lfw = load_lfw()
        row = {n: i for i, n in enumerate(lfw_names)}
        missing = [n for n in names if n not in row]
        if missing:
            raise SystemExit(f"{len(missing)} faces (e.g. {missing[0]}) are not in the pack {PACK}")
        return lfw[[row[n] for n in names]]
    return np.stack([load_gray(DATA / n) for n in names])


def majority(votes: np.ndarray) -> np.ndarray:
    """FER+ majority protocol: argmax over the 10 columns (ties: the first column in
    FER+ order wins, i.e. numpy argmax); -1 where the winner is unknown or NF."""
    top = votes.argmax(1)
    return np.where(top >= 8, -1, top)


def tied(votes: np.ndarray) -> np.ndarray:
    """Faces whose top vote count is shared by two or more columns: no single majority
    label. `majority` gives them the first tied column (neutral wins all its ties), so
    FER2013Test is also scored with them dropped (`evaluate.py fer`, `tie_rules`)."""
    return (votes == votes.max(1, keepdims=True)).sum(1) > 1


def strict_majority(votes: np.ndarray) -> np.ndarray:
    """The FER+ authors' own "majority" labels (their reference code, microsoft/FERPlus
    `src/ferplus.py`, used there for FER2013Valid and FER2013Test): single votes are
    discarded as outliers, and a face keeps a label only if its top emotion has more
    than half of the remaining votes; otherwise it is unknown and dropped. So a tied
    face never has a label, nor does one without a clear majority. -1 where dropped."""
    v = np.where(votes <= 1, 0, votes)
    top = v.argmax(1)
    ok = (v.max(1) * 2 > v.sum(1)) & (top < 8)
    return np.where(ok, top, -1)


def tie_rules(pred: np.ndarray, votes: np.ndarray) -> dict:
    """Accuracy of predictions on majority-protocol faces (unknown/NF winners already
    dropped) under the tie rules besides ours: tied faces dropped, any tied top emotion
    counted right, and the FER+ authors' strict majority (`strict_majority`)."""
    t, strict = tied(votes), strict_majority(votes)
    kept = strict >= 0
    return {
        "n_strict_majority": int(kept.sum()),
        "strict_majority": round(float((pred == strict)[kept].mean()), 4),
        "n_tied": int(t.sum()),
        "ties_dropped": round(float((pred == majority(votes))[~t].mean()), 4),
        "any_tied_top": round(float((votes[np.arange(len(pred)), pred] == votes.max(1)).mean()), 4),
    }


def mean_recall(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean over the classes present in `y` of the share of each predicted right: the
    score a class-balanced classifier is judged by."""
    return float(np.mean([(pred[y == k] == k).mean() for k in np.unique(y)]))


def soft_labels(votes: np.ndarray) -> np.ndarray:
    """Vote distribution over the 8 emotions (unknown/NF dropped)."""
    emo = votes[:, :8]
    s = emo.sum(1, keepdims=True)
    return emo / np.maximum(s, 1e-6)


def load_ckplus():
    """Returns (images N×48×48, labels as CLASSES indices, subjects, paths)."""
    if "ck" in _cache:
        return _cache["ck"]
    if PACK:
        _cache["ck"] = load_ckplus_pack(Path(PACK))
        return _cache["ck"]
    root = require(DATA / "ckplus48")
    imgs, labels, subjects, paths = [], [], [], []
    with open(root / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            key = CK_FOLDER_TO_KEY.get(row["label"], row["label"])
            imgs.append(load_gray(root / row["path"]))
            labels.append(CLASSES.index(key))
            subjects.append(row["subject"])
            paths.append(row["path"])
    out = (np.stack(imgs), np.asarray(labels), np.asarray(subjects), paths)
    _cache["ck"] = out
    return out


def load_ckplus_pack(pack: Path):
    from pack_data import read_mosaic

    m = _pack_meta(pack)
    labels = m["ck_labels"]
    return read_mosaic(pack / "ck.png", len(labels)), labels, m["ck_subjects"], list(m["ck_paths"])


SPLIT_FILE = Path(__file__).resolve().parent / "splits" / "ckplus_10fold.csv"


def load_folds() -> dict[str, int]:
    with open(SPLIT_FILE, newline="") as f:
        return {r["subject"]: int(r["fold"]) for r in csv.DictReader(f)}
