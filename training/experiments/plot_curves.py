"""Training curves (loss, train/val accuracy per epoch) from runs' log.jsonl files.

    python training/experiments/plot_curves.py training/logs/fer_b.jsonl training/logs/deploy_b.jsonl --out docs/img/curves_fer.png
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    fig, (l, r) = plt.subplots(1, 2, figsize=(10, 3.8))
    offset = 0
    for path in a.logs:
        rows = [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]
        ep = [offset + x["epoch"] for x in rows]
        name = Path(path).stem
        l.plot(ep, [x["loss"] for x in rows], label=name)
        r.plot(ep, [x["train_acc"] for x in rows], "--", label=f"{name} train (augmented)")
        r.plot(ep, [x["val_acc"] for x in rows], label=f"{name} validation")
        offset = ep[-1]
    l.set_xlabel("epoch"); l.set_ylabel("loss"); l.legend(); l.grid(alpha=0.3)
    r.set_xlabel("epoch"); r.set_ylabel("accuracy"); r.legend(fontsize=8); r.grid(alpha=0.3)
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=100)


if __name__ == "__main__":
    main()
