"""The softmax temperature fitted across domains, not on FER2013Valid alone (issue 18,
point 4: "fit unsure thresholds and temperature on the suite's pooled validation").

    cargo build --release
    python training/talk_frames.py --split tune --out training/.cache/talk/tune.npz
    python training/talk_frames.py --split report --out training/.cache/talk/report.npz
    python training/tools/pooled_temperature.py [MODEL] [--json docs/results/pooled_temperature.json]

The shipped model's metadata carries a temperature fitted by `calibrate.py` on
FER2013Valid (negative log-likelihood). Here the same fit runs on the three fitting
domains of transfer_thresholds.py at once (FER2013Valid, CK+ fold 8, the tuning half's
neutral speakers mid-sentence; a smile on a speaker is left out, as there), each domain
weighing the same however many faces it has, and on each domain alone. For every
domain, the fitting ones and those nobody fitted on (FER2013Test, CK+ fold 9, the report
half's speakers), it prints the negative log-likelihood and the expected calibration
error (15 bins of the top probability) at the shipped temperature and at the pooled
one. Faces are read one view each, as live video reads a frame.
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
sys.path[:0] = [str(HERE.parent), str(HERE)]
import calibrate  # noqa: E402
import transfer_thresholds as tt  # noqa: E402

FIT_ON = ["fer-valid", "ck-fold8", "talk-tune"]
GRID = np.round(np.arange(0.30, 3.0001, 0.005), 3)  # as a multiple of the shipped temperature


def nll(z: np.ndarray, y: np.ndarray, scale: float) -> float:
    return calibrate.nll(calibrate.softmax(z / scale), y)


def ece(z: np.ndarray, y: np.ndarray, scale: float) -> float:
    return calibrate.ece(calibrate.softmax(z / scale), y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", type=Path, default=ROOT / "models/emotionnet_nano_b.int8.onnx")
    ap.add_argument("--talk", type=Path, default=HERE.parent / ".cache/talk")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    meta = {p.key: p.value for p in onnx.load(str(a.model), load_external_data=False).metadata_props}
    t0 = float(meta.get("temperature", "1"))
    doms = {}
    for d, (p, y) in tt.domains(a.model, a.talk).items():
        keep = y != tt.IGNORE
        # the logits over the shipped temperature, up to a constant per face
        doms[d] = (np.log(np.clip(p[keep].astype(np.float64), 1e-300, 1)), y[keep])

    def pooled(scale: float) -> float:
        return float(np.mean([nll(*doms[d], scale) for d in FIT_ON]))

    best = {d: float(GRID[np.argmin([nll(*doms[d], s) for s in GRID])]) for d in FIT_ON}
    s_pool = float(GRID[np.argmin([pooled(s) for s in GRID])])
    rep = {
        "command": "python training/tools/pooled_temperature.py " + " ".join(sys.argv[1:]),
        "model": a.model.name,
        "shipped_temperature": t0,
        "fitted_alone": {d: round(t0 * s, 4) for d, s in best.items()},
        "pooled_temperature": round(t0 * s_pool, 4),
        "domains": {},
    }
    print(f"shipped temperature {t0:.4f} (FER2013Valid); pooled over {', '.join(FIT_ON)}: {t0 * s_pool:.4f}")
    for d, s in best.items():
        print(f"  {d} alone: {t0 * s:.4f}")
    print(f"\n{'domain':<11} {'':>4} {'n':>6} {'NLL shipped -> pooled':>22} {'ECE shipped -> pooled':>22}")
    for d, (z, y) in doms.items():
        r = {
            "n": int(len(y)),
            "fit": d in FIT_ON,
            "nll": [round(nll(z, y, 1.0), 4), round(nll(z, y, s_pool), 4)],
            "ece": [round(ece(z, y, 1.0), 4), round(ece(z, y, s_pool), 4)],
        }
        rep["domains"][d] = r
        tag = "fit" if r["fit"] else "held"
        print(
            f"{d:<11} {tag:>4} {r['n']:>6} {r['nll'][0]:>10.3f} -> {r['nll'][1]:<8.3f} "
            f"{100 * r['ece'][0]:>9.1f} -> {100 * r['ece'][1]:<5.1f} %"
        )
    if a.json:
        a.json.write_text(json.dumps(rep, indent=1) + "\n")


if __name__ == "__main__":
    main()
