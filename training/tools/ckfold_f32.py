"""Pooled f32 (PyTorch) accuracy of the ten CK+ fold checkpoints on their held-out folds,
with the same mirror-image averaging the shipped models declare (tta_flip).

    python training/tools/ckfold_f32.py training/runs/ck_b_ferinit --json docs/results/ckplus_10fold_f32.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

import sys
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]  # training/ (the core modules) and training/tools/, from any working directory

import data
from evaluate import report
from train import load_checkpoint, predict


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    imgs, lab, _, _ = data.load_ckplus()
    pred = np.full(len(lab), -1)
    y = np.array([data.CK_CLASSES.index(data.CLASSES[l]) for l in lab])
    for k in range(10):
        z = np.load(Path(a.run) / f"fold{k}_pred.npz")
        m, _ = load_checkpoint(Path(a.run) / f"fold{k}.pt")
        x = imgs[z["index"]]
        lg = predict(m, x) + predict(m, x[:, :, ::-1].copy())
        pred[z["index"]] = lg.argmax(1)
    assert (pred >= 0).all(), "a fold is missing"
    rep = report(y, pred, data.CK_CLASSES)
    print(json.dumps({k: v for k, v in rep.items() if k != "confusion"}, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
