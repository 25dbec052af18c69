"""Calibration and abstention of a shipped classifier (issue 8, point 4).

    python training/calibrate.py models/emotionnet_nano_b.int8.onnx \
        --json docs/results/calibration.json --figure docs/img/coverage_accuracy.png \
        [--apply config/labels/en.toml ...]

1. Expected calibration error (15 equal-width bins of the top probability) on
   FER2013Valid and FER2013Test, with the raw logits (T = 1) and with the temperature
   the model carries in its metadata (fitted on FER2013Valid by export.py).
2. Per-class thresholds for the `unsure` caption, fitted on FER2013Valid: for each
   class the lowest threshold at which the faces captioned with that class are at least
   `--target` + `--margin` correct (90 % + 2 points of headroom for the step from
   validation to test), i.e. every caption, not just the average, keeps the
   promise. A class that never reaches the target gets threshold 1.0 (always unsure).
3. The same thresholds scored once on FER2013Test: accuracy of the shown captions and
   coverage (the share of faces that get a caption), plus the coverage-vs-accuracy
   curve of a single global threshold for comparison.

`--apply` writes the thresholds into wording profiles as `min_confidence` (the app's
per-emotion threshold), leaving every other line untouched.

The app applies the threshold to the time-smoothed probability of a track; on still
images (this script) it sees one frame. Smoothing averages out frame noise, so the
still-image numbers are the conservative side.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import onnx

import data
from evaluate import logits, session


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def ece(p: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    conf, pred = p.max(1), p.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += sel.mean() * abs((pred[sel] == y[sel]).mean() - conf[sel].mean())
    return float(total)


def nll(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)).mean())


def fit_thresholds(
    p: np.ndarray, y: np.ndarray, target: float, min_support: int = 20, fallback: float = 0.9
) -> np.ndarray:
    """Lowest per-class threshold whose captions are >= target correct on this set.

    A class predicted too rarely here to measure (under `min_support` faces: disgust
    and contempt in FER+) gets `fallback`, shown only when nearly certain, rather than
    never: posed disgust is read reliably (CK+), and hiding it entirely would be a
    clinical choice (the profile's `shown`), not a statistical one. A class that is
    predicted often but never reaches the target gets 1.0 (always unsure)."""
    k = p.shape[1]
    pred, conf = p.argmax(1), p.max(1)
    th = np.ones(k)
    for c in range(k):
        sel = pred == c
        if sel.sum() < min_support:
            th[c] = fallback
            continue
        order = np.argsort(-conf[sel])
        ok = (y[sel][order] == c).astype(float)
        prec = np.cumsum(ok) / np.arange(1, len(ok) + 1)
        # the largest prefix (most faces shown) whose precision is still >= target,
        # with at least min_support faces so one lucky face does not set it
        good = np.where((prec >= target) & (np.arange(1, len(ok) + 1) >= min_support))[0]
        if len(good):
            th[c] = float(np.ceil(conf[sel][order][good[-1]] * 100) / 100)
    # never below the argmax floor that means anything for k classes
    return np.maximum(th, 1.0 / k)


def shown(p: np.ndarray, y: np.ndarray, th: np.ndarray) -> dict:
    pred, conf = p.argmax(1), p.max(1)
    show = conf >= th[pred]
    return {
        "coverage": round(float(show.mean()), 4),
        "shown_accuracy": round(float((pred[show] == y[show]).mean()) if show.any() else 0.0, 4),
        "all_accuracy": round(float((pred == y).mean()), 4),
        "n": int(len(y)),
        "per_class": {
            data.CLASSES[c]: {
                "shown": int((show & (pred == c)).sum()),
                "precision": round(float((y[show & (pred == c)] == c).mean()), 4) if (show & (pred == c)).any() else None,
            }
            for c in range(p.shape[1])
        },
    }


def curve(p: np.ndarray, y: np.ndarray) -> list[tuple[float, float, float]]:
    pred, conf = p.argmax(1), p.max(1)
    out = []
    for t in np.linspace(0.0, 0.99, 100):
        show = conf >= t
        if show.sum() < 20:
            break
        out.append((round(float(t), 2), round(float(show.mean()), 4), round(float((pred[show] == y[show]).mean()), 4)))
    return out


def apply(profile: Path, th: np.ndarray, labels: list[str]) -> None:
    """Rewrites min_confidence in each [class] table of a wording profile."""
    lines = profile.read_text().splitlines(keepends=True)
    section = None
    for i, line in enumerate(lines):
        m = re.match(r"\s*\[([a-z_]+)\]", line)
        if m:
            section = m.group(1)
        elif section in labels and re.match(r"\s*min_confidence\s*=", line):
            lines[i] = f"min_confidence = {th[labels.index(section)]:.2f}\n"
    profile.write_text("".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--target", type=float, default=0.9)
    ap.add_argument("--margin", type=float, default=0.02, help="fit at target + margin: valid is not test")
    ap.add_argument("--json", default=None)
    ap.add_argument("--figure", default=None)
    ap.add_argument("--apply", nargs="*", default=[])
    a = ap.parse_args()

    s, labels = session(a.model)
    assert labels == data.CLASSES, labels
    meta = {p.key: p.value for p in onnx.load(a.model, load_external_data=False).metadata_props}
    t = float(meta.get("temperature", "1"))
    sets = {}
    for split in ("valid", "test"):
        imgs, votes, _ = data.load_ferplus(split)
        maj = data.majority(votes)
        keep = maj >= 0
        sets[split] = (logits(s, imgs[keep]), maj[keep])

    rep: dict = {"model": Path(a.model).name, "temperature": t, "target": a.target, "fit_at": a.target + a.margin}
    for split, (lg, y) in sets.items():
        rep[f"{split}_ece_raw"] = round(ece(softmax(lg), y), 4)
        rep[f"{split}_ece_temperature"] = round(ece(softmax(lg / t), y), 4)
        rep[f"{split}_nll_raw"] = round(nll(softmax(lg), y), 4)
        rep[f"{split}_nll_temperature"] = round(nll(softmax(lg / t), y), 4)
    pv = softmax(sets["valid"][0] / t)
    th = fit_thresholds(pv, sets["valid"][1], a.target + a.margin)
    rep["thresholds"] = {labels[c]: round(float(th[c]), 2) for c in range(len(labels))}
    rep["valid"] = shown(pv, sets["valid"][1], th)
    pt = softmax(sets["test"][0] / t)
    rep["test"] = shown(pt, sets["test"][1], th)
    rep["test_curve_global_threshold"] = curve(pt, sets["test"][1])
    # the best single global threshold on valid that reaches the target, for comparison
    cv = curve(pv, sets["valid"][1])
    g = next((c[0] for c in cv if c[2] >= a.target + a.margin), 1.0)
    rep["global_threshold"] = g
    rep["test_global"] = shown(pt, sets["test"][1], np.full(len(labels), g))
    print(json.dumps({k: v for k, v in rep.items() if k != "test_curve_global_threshold"}, indent=1))

    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(rep, indent=1))
    if a.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        c = np.array(rep["test_curve_global_threshold"])
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        ax.plot(c[:, 1] * 100, c[:, 2] * 100, label="one global threshold")
        ax.plot(rep["test"]["coverage"] * 100, rep["test"]["shown_accuracy"] * 100, "o", color="C3", label="per-class thresholds (shipped)")
        ax.axhline(a.target * 100, ls="--", color="gray", lw=1)
        ax.set_xlabel("coverage: faces given a caption (%)")
        ax.set_ylabel("accuracy of shown captions (%)")
        ax.set_title(f"{rep['model']} on FER2013Test (n={rep['test']['n']})")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left")
        fig.tight_layout()
        Path(a.figure).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(a.figure, dpi=110)
    for prof in a.apply:
        apply(Path(prof), th, labels)
        print("wrote min_confidence into", prof)


if __name__ == "__main__":
    main()
