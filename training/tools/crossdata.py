"""Cross-dataset evaluation and the framing sweep (issue 8, points 1-3), one command.

    python training/tools/crossdata.py MODEL... [--framing] [--json OUT] [--markdown]

MODEL is a shipped ONNX file (scored in onnxruntime, with the mirror averaging it
declares) or a training checkpoint `runs/*/best.pt` (scored in torch, mirror-averaged
like the shipped models). For each model, by what it was trained on:

* 8-class FER+ models: FER2013Test (majority protocol; also with ties dropped and under
  the FER+ authors' strict majority, as `evaluate.py fer` prints), all 981 CK+ images
  (7-way with neutral excluded, and 8-way), and the CK+ subject folds the model did not train on
  (read from the checkpoint's `ck_folds`, or `--ck-heldout 8,9` for ONNX files).
* 7-class CK+ models (a fold checkpoint `runs/ck_*/fold{k}.pt`): FER2013Test restricted
  to the 7 shared classes (neutral faces dropped).
* `--logit-adjust TAU`: subtract TAU x log(class prior of FER2013Train) from the logits of
  8-class models, the post-hoc form of class balance (Menon et al. 2021).
* `--framing`: FER2013Test accuracy as the crop box is scaled (0.8-1.2) and shifted
  (-20 %..+20 % of its size, x and y) around the training framing. The 48x48 crops are
  resampled with edge replication, so a looser box shows replicated border pixels
  rather than real background: a slight underestimate of a real looser crop.
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import sys
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]  # training/ (the core modules) and training/tools/, from any working directory

import data

SCALES = [0.8, 0.9, 1.0, 1.1, 1.2]
SHIFTS = [-0.2, -0.1, 0.0, 0.1, 0.2]


class Model:
    """A uniform `logits(uint8 N x 48 x 48)` over ONNX files and torch checkpoints."""

    def __init__(self, path: str):
        self.path = path
        self.ck_folds: list[int] = []
        # subtracted from every logit row (--logit-adjust)
        self.adjust: np.ndarray | float = 0.0
        if path.endswith(".onnx"):
            from evaluate import logits, session

            s, self.labels = session(path)
            self._fn = lambda imgs: logits(s, imgs)
        else:
            from train import load_checkpoint, parse_folds

            m, ck = load_checkpoint(path)
            n = ck.get("n_classes", 8)
            self.labels = data.CLASSES if n == 8 else data.CK_CLASSES
            meta = Path(path).parent / "meta.json"
            if meta.exists():
                self.ck_folds = parse_folds(json.loads(meta.read_text()).get("ck_folds", ""))

            @torch.no_grad()
            def fn(imgs: np.ndarray) -> np.ndarray:
                x = (torch.from_numpy(imgs).float().unsqueeze(1) / 255.0 - 0.5) / 0.5
                out = []
                for i in range(0, len(x), 512):
                    b = x[i : i + 512]
                    out.append((m(b) + m(torch.flip(b, [3]))) / 2)
                return torch.cat(out).numpy()

            self._fn = fn

    def logits(self, imgs: np.ndarray) -> np.ndarray:
        return self._fn(imgs) - self.adjust


@functools.cache
def fer_prior() -> np.ndarray:
    """Share of each class among FER2013Train majority labels (FER+ order)."""
    _, votes, _ = data.load_ferplus("train")
    maj = data.majority(votes)
    return np.bincount(maj[maj >= 0], minlength=8) / (maj >= 0).sum()


def reframe(imgs: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    """The crop a box `scale` times as large, moved by (dx, dy) of its size."""
    x = torch.from_numpy(imgs).float().unsqueeze(1)
    n = len(x)
    theta = torch.tensor([[scale, 0, 2 * dx], [0, scale, 2 * dy]], dtype=torch.float32).expand(n, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return y.squeeze(1).round().clamp(0, 255).to(torch.uint8).numpy()


def auto_tau(m: Model, log_prior: np.ndarray) -> float:
    """The logit-adjustment strength a balanced classifier would pick without seeing CK+:
    the best FER2013Valid mean class recall over a small grid."""
    imgs, votes, _ = data.load_ferplus("valid")
    maj = data.majority(votes)
    lg, y = m.logits(imgs[maj >= 0]), maj[maj >= 0]

    return max([0.0, 0.25, 0.5, 0.75, 1.0], key=lambda tau: data.mean_recall((lg - tau * log_prior).argmax(1), y))


def acc(p: np.ndarray, y: np.ndarray) -> float:
    return round(float((p == y).mean()), 4)


def evaluate(m: Model, heldout: list[int] | None, framing: bool) -> dict:
    fer_imgs, votes, _ = data.load_ferplus("test")
    maj = data.majority(votes)
    keep = maj >= 0
    fer_imgs, fer_y, votes = fer_imgs[keep], maj[keep], votes[keep]
    ck_imgs, ck_lab, ck_sub, _ = data.load_ckplus()
    fmap = data.load_folds()
    ck_fold = np.array([fmap[s] for s in ck_sub])
    rep: dict = {"model": m.path}
    if len(m.labels) == 8:
        lg = m.logits(fer_imgs)
        rep["fer_test"] = acc(lg.argmax(1), fer_y)
        # the same predictions under the other tie rules (evaluate.py fer, `tie_rules`)
        rules = data.tie_rules(lg.argmax(1), votes)
        rep["fer_test_ties_dropped"] = rules["ties_dropped"]
        rep["fer_test_strict_majority"] = rules["strict_majority"]
        ck_idx = [m.labels.index(c) for c in data.CK_CLASSES]
        y7 = np.array([data.CK_CLASSES.index(data.CLASSES[l]) for l in ck_lab])
        lc = m.logits(ck_imgs)
        rep["ck_all_7way"] = acc(lc[:, ck_idx].argmax(1), y7)
        rep["ck_all_8way"] = acc(lc.argmax(1), ck_lab)
        held = heldout if heldout is not None else [k for k in range(10) if k not in m.ck_folds]
        if m.ck_folds or heldout is not None:
            sel = np.isin(ck_fold, held)
            rep["ck_heldout_folds"] = held
            rep["ck_heldout_7way"] = acc(lc[sel][:, ck_idx].argmax(1), y7[sel])
            rep["ck_heldout_8way"] = acc(lc[sel].argmax(1), ck_lab[sel])
        if framing:
            rep["framing"] = {}
            for name, grid in (("scale", SCALES), ("dx", SHIFTS), ("dy", SHIFTS)):
                row = {}
                for v in grid:
                    s, dx, dy = (v, 0, 0) if name == "scale" else (1, v, 0) if name == "dx" else (1, 0, v)
                    row[str(v)] = acc(m.logits(reframe(fer_imgs, s, dx, dy)).argmax(1), fer_y)
                rep["framing"][name] = row
    else:
        # a 7-class CK+ model on the FER2013Test faces of the 7 shared classes
        sel = np.isin(fer_y, [data.CLASSES.index(c) for c in data.CK_CLASSES])
        y7 = np.array([data.CK_CLASSES.index(data.CLASSES[l]) for l in fer_y[sel]])
        rep["fer_test_7shared"] = acc(m.logits(fer_imgs[sel]).argmax(1), y7)
        rep["fer_test_7shared_n"] = int(sel.sum())
    return rep


def markdown(reps: list[dict]) -> str:
    cols = ["fer_test", "ck_all_7way", "ck_all_8way", "ck_heldout_7way", "ck_heldout_8way", "fer_test_7shared"]
    out = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in reps:
        cells = [f"{r[c]*100:.1f} %" if c in r else "" for c in cols]
        out.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--framing", action="store_true")
    ap.add_argument("--ck-heldout", default=None, help="CK+ folds an ONNX model (or a checkpoint that trained on no CK+ fold) did not train on, e.g. 8,9; or whose faces lent it anything else, such as synthetic faces")
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--logit-adjust",
        default="0",
        help="subtract TAU x log(FER+ training prior) from 8-class logits (post-hoc class balance); "
        "'auto': the TAU of 0, 0.25, ..., 1 with the best FER2013Valid mean class recall (no CK+ seen)",
    )
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    held = [int(k) for k in a.ck_heldout.split(",")] if a.ck_heldout else None
    reps = []
    for path in a.models:
        m = Model(path)
        tau = 0.0
        if len(m.labels) == 8 and (a.logit_adjust == "auto" or float(a.logit_adjust)):
            log_prior = np.log(fer_prior()[[data.CLASSES.index(c) for c in m.labels]])
            tau = auto_tau(m, log_prior) if a.logit_adjust == "auto" else float(a.logit_adjust)
            m.adjust = tau * log_prior
        rep = evaluate(m, held if path.endswith(".onnx") or not m.ck_folds else None, a.framing)
        if tau:
            rep["logit_adjust"] = tau
        print(json.dumps(rep), flush=True)
        reps.append(rep)
    if a.markdown:
        print(markdown(reps))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(reps, indent=1))


if __name__ == "__main__":
    main()
