"""Do the views of a still photo agree less on faces the network does not know? (issue
18, point 4: say "not sure" where the model is outside what it knows.)

    python experiments/view_agreement_probe.py [--json OUT]

`emocue classify` reads a still face in ten views (the crop and four copies moved by one
pixel, each also mirrored) and averages them. On a face like those it trained on the
views agree; the hope is that on a face from elsewhere they disagree more, which would
make "every view names the same emotion" a "not sure" rule that carries to people and
cameras the thresholds never saw. Measured where we know the answer:

* out of domain: the FER+-only network (`models/fer_only`, never trained on CK+) on all
  981 CK+ faces, 8-way (a calm caption on CK+ is wrong);
* in domain: the shipped network on FER2013Test (majority label) and on CK+ folds 8-9.

For each, the captions the wording profile's thresholds show, then with the agreement
rule added, and beside it the same number of captions kept by raising every threshold
by one amount instead: the rule is worth having only if it beats that.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tools")]
import data  # noqa: E402
import evaluate  # noqa: E402
import transfer_thresholds as tt  # noqa: E402


def view_logits(model: Path, imgs: np.ndarray) -> tuple[np.ndarray, float]:
    """(N, 10, C) logits of the ten views, and the model's softmax temperature."""
    s, _ = evaluate.session(str(model))
    s.flip = False  # each view and its mirror separately
    meta = {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}
    out = []
    for u, v in evaluate.VIEWS:
        x = evaluate.view(imgs, u, v)
        out.append(evaluate.logits(s, x))
        out.append(evaluate.logits(s, np.ascontiguousarray(x[:, :, ::-1])))
    return np.stack(out, 1), float(meta.get("temperature", 1.0))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def score(lv: np.ndarray, t: float, y: np.ndarray, th: np.ndarray) -> dict:
    p = softmax(lv.mean(1) / t)  # what the app shows from: the views' mean logits
    top = p.argmax(1)
    agree = (lv.argmax(2) == top[:, None]).mean(1)
    margin = p[np.arange(len(p)), top] - th[top]
    shown = margin >= 0
    rows = {}

    def stats(keep):
        n = int(keep.sum())
        return {"shown": n, "coverage": round(n / len(y), 4),
                "right": round(float((top[keep] == y[keep]).mean()), 4) if n else None}

    rows["thresholds"] = stats(shown)
    for need in (1.0, 0.9, 0.8):
        keep = shown & (agree >= need)
        k = int(keep.sum())
        # the same number of captions by raising every threshold by one amount
        by_th = shown & (margin >= np.sort(margin[shown])[::-1][k - 1]) if k else keep
        rows[f"views agree >= {need:.0%}"] = stats(keep) | {"raise_thresholds_same_count": stats(by_th)}
    rows["top-1"] = round(float((top == y).mean()), 4)
    rows["all views agree (share of faces)"] = round(float((agree == 1.0).mean()), 4)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    th = tt.profile_thresholds(ROOT / "config/labels/en.toml")
    shipped = ROOT / "models/emotionnet_nano_b.int8.onnx"
    fer_only = ROOT / "models/fer_only/emotionnet_nano_b_fer.int8.onnx"
    ck, ck_lab, subj, _ = data.load_ckplus()
    ck_y = np.asarray(ck_lab)  # indices into data.CLASSES, the models' label order
    fmap = data.load_folds()
    f89 = np.array([fmap[s] in (8, 9) for s in subj])
    fer, votes, _ = data.load_ferplus("test")
    maj = data.majority(votes)
    out = {}
    lv, t = view_logits(fer_only, ck)
    out["out of domain: FER+-only network on all CK+"] = score(lv, t, ck_y, th)
    lv, t = view_logits(shipped, fer[maj >= 0])
    out["in domain: shipped network on FER2013Test"] = score(lv, t, maj[maj >= 0], th)
    lv, t = view_logits(shipped, ck[f89])
    out["in domain: shipped network on CK+ folds 8-9"] = score(lv, t, ck_y[f89], th)
    print(json.dumps(out, indent=1))
    if a.json:
        a.json.write_text(json.dumps({"command": "python experiments/view_agreement_probe.py "
                                      + " ".join(sys.argv[1:]), "results": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
