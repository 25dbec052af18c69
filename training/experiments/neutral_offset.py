"""Does reading "calm" less often carry a network to posed faces? Lowers the neutral
logit by a fixed offset (no retraining) and scores what that buys and costs: all CK+
8-way (CK+ has no neutral, so every calm reading there is wrong) and the share of CK+
read as calm, against FER2013Test (majority and the FER+ authors' strict majority) and
FER2013Valid macro recall (the selection split).

    python experiments/neutral_offset.py ../models/fer_only/emotionnet_nano_b_fer.int8.onnx --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]

import data  # noqa: E402
import evaluate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--offsets", default="0,-0.25,-0.5,-0.75,-1,-1.5")
    ap.add_argument("--json")
    a = ap.parse_args()
    offsets = [float(v) for v in a.offsets.split(",")]
    sets = {}
    for name in ("test", "valid"):
        imgs, votes, _ = data.load_ferplus(name)
        sets[name] = (imgs, votes)
    ci, cy, _, _ = data.load_ckplus()
    out = {}
    for mp in a.models:
        s, labels = evaluate.session(mp)
        neutral = labels.index("neutral")
        lg = {name: evaluate.logits(s, im) for name, (im, _) in sets.items()}
        lc = evaluate.logits(s, ci)
        rows = {}
        for d in offsets:
            b = np.zeros(len(labels))
            b[neutral] = d
            tv = sets["test"][1]
            pt = (lg["test"] + b).argmax(1)
            maj, strict = data.majority(tv), data.strict_majority(tv)
            vv = sets["valid"][1]
            yv = data.majority(vv)
            pv = (lg["valid"] + b).argmax(1)
            pc = (lc + b).argmax(1)
            rows[str(d)] = {
                "fer_test_majority": round(float((pt == maj)[maj >= 0].mean()) * 100, 2),
                "fer_test_strict": round(float((pt == strict)[strict >= 0].mean()) * 100, 2),
                "fer_valid_macro_recall": round(data.mean_recall(pv[yv >= 0], yv[yv >= 0]) * 100, 2),
                "ck_all_8way": round(float((pc == cy).mean()) * 100, 2),
                "ck_read_calm": round(float((pc == neutral).mean()) * 100, 2),
            }
            print(Path(mp).name, d, rows[str(d)], flush=True)
        out[mp] = rows
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
