"""A uniform weight soup (Wortsman et al., ICML 2022): the mean of the weights of
checkpoints fine-tuned from the same start. Averaged weights are said to carry better
to data none of the runs saw than any one run; here it is measured on people none of
them saw (issue 18). BatchNorm running statistics are averaged with the weights.

    python experiments/soup.py runs/a/best.pt runs/b/best.pt --out runs/soup_ab/best.pt
    python tools/crossdata.py runs/soup_ab/best.pt --ck-heldout 5,6,7,8,9
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    if len(a.checkpoints) < 2:
        raise SystemExit("soup: give two or more checkpoints")
    cks = [torch.load(p, map_location="cpu", weights_only=False) for p in a.checkpoints]
    keys = [set(c["state_dict"]) for c in cks]
    if any(k != keys[0] for k in keys) or any(c["arch"] != cks[0]["arch"] for c in cks):
        raise SystemExit("soup: the checkpoints are not the same network")
    out = dict(cks[0])
    sd = {}
    for k, v in cks[0]["state_dict"].items():
        if v.is_floating_point():
            sd[k] = sum(c["state_dict"][k] for c in cks) / len(cks)
        else:  # counters (num_batches_tracked): the first's
            sd[k] = v
    out["state_dict"] = sd
    out["soup_of"] = [str(p) for p in a.checkpoints]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, a.out)
    print(f"soup of {len(cks)} checkpoints -> {a.out}")


if __name__ == "__main__":
    main()
