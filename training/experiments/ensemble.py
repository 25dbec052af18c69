"""How far could distillation from the models we already have go? Scores each model and
the averaged probabilities of every combination of them on FER2013Valid and
FER2013Test (majority protocol, mirror-averaged like the shipped models). A student
distilled from an ensemble rarely beats it, so the best test score here bounds what
distilling from these models can give the deployed Nano-B.

    python experiments/ensemble.py runs/gpu2/ft_fc/best.pt runs/cpu_ema/best.pt ... [--json OUT]

MODEL is a checkpoint or a shipped ONNX file (anything crossdata.Model reads).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

import sys
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]  # training/ (the core modules) and training/tools/, from any working directory

import data
from calibrate import softmax
from crossdata import Model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    sets = {}
    for split in ("valid", "test"):
        imgs, votes, _ = data.load_ferplus(split)
        maj = data.majority(votes)
        sets[split] = (imgs[maj >= 0], maj[maj >= 0])
    probs = {}
    for path in a.models:
        m = Model(path)
        probs[path] = {s: softmax(m.logits(x)) for s, (x, _) in sets.items()}

    def score(combo: tuple[str, ...]) -> dict:
        return {s: round(float((sum(probs[p][s] for p in combo).argmax(1) == y).mean()), 4) for s, (_, y) in sets.items()}

    rows = [{"models": list(c), **score(c)} for r in range(1, len(a.models) + 1) for c in itertools.combinations(a.models, r)]
    singles = [r for r in rows if len(r["models"]) == 1]
    best_valid = max(rows, key=lambda r: r["valid"])
    best_test = max(rows, key=lambda r: r["test"])
    out = {"singles": singles, "all": rows[-1], "best_by_valid": best_valid, "best_test_any": best_test, "n_combinations": len(rows)}
    print(json.dumps(out, indent=1))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
