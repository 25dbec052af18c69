"""The whole chain on full frames: held-out CK+ faces placed in 640x480 frames, run
through `emocue classify` (detector -> crop -> classifier), scored against the labels.

    python training/tools/chain_eval.py [--folds 8,9] [--emocue target/release/emocue] [--json OUT]
    python training/tools/chain_eval.py --face-frac 0.3,0.5,0.7,0.85,1.0   # face size sweep
    python training/tools/chain_eval.py --roll=-30,-15,0,15,30 [--no-upright] # head tilt sweep

CK+48 faces are 48x48 crops, so each frame is built from one: upscaled to a face of
140-220 px (a person at conversation distance), placed at a random spot, on a background
of the crop's own edge colour with mild noise and a little JPEG compression, like a
webcam frame. It is a stand-in for real photos (which we do not have), and it measures
what the crop-level numbers cannot: whether the detector finds the face and the app's
crop frames it the way training did. Frames go to a temporary folder and are deleted.

`--face-frac` sweeps the face size instead: the crop's side is that fraction of the frame
height (1.0: the face crop fills the frame's height, as in a tight portrait), one run
of every held-out face per fraction. `--roll` tilts each face by that many degrees
(clockwise, in the image) before placing it, the way a head leans: the app's crop is to
turn it upright again by the eye line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import sys
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]  # training/ (the core modules) and training/tools/, from any working directory

import data

ROOT = Path(__file__).resolve().parents[2]


def frame(face: np.ndarray, rng: np.random.Generator, frac: float | None = None, roll: float = 0.0) -> Image.Image:
    side = int(rng.integers(140, 221)) if frac is None else int(480 * frac)
    big = Image.fromarray(face).resize((side, side), Image.BICUBIC)
    bg = float(np.median(np.concatenate([face[0], face[-1], face[:, 0], face[:, -1]])))
    if roll:
        # PIL turns counter-clockwise; the grown square's new corners take the background
        big = big.rotate(-roll, resample=Image.BICUBIC, expand=True, fillcolor=int(bg))
        side = big.size[0]
    canvas = np.clip(rng.normal(bg, 6, (480, 640)), 0, 255).astype(np.uint8)
    room = 0 if frac is None else 1  # a fixed size may fill the frame exactly
    x, y = int(rng.integers(0, 640 - side + room)), int(rng.integers(0, 480 - side + room))
    canvas[y : y + side, x : x + side] = np.asarray(big)
    return Image.fromarray(canvas).convert("RGB")


def run_chain(a: argparse.Namespace, faces: np.ndarray, labels: list[str], frac: float | None, roll: float = 0.0) -> dict:
    """Builds one frame per face, classifies them all in one `emocue classify` call and
    scores the first (largest) face of each frame."""
    rng = np.random.default_rng(0)
    truth = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (face, label) in enumerate(zip(faces, labels)):
            name = f"ck{i:04d}.jpg"
            frame(face, rng, frac, roll).save(Path(tmp) / name, quality=90)
            truth[name] = label
        cmd = [a.emocue, "classify", "--json", tmp]
        if a.model:
            cmd += ["--model", str(Path(a.model).resolve())]
        run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if run.returncode != 0:
            raise SystemExit(f"emocue classify failed: {run.stderr.strip()}")
        out = run.stdout
    n = len(truth)
    found = ok8 = ok7 = 0
    for line in out.splitlines():
        r = json.loads(line)
        name = Path(r["file"]).name
        if name not in truth or not r.get("faces"):
            continue
        found += 1
        face = r["faces"][0]  # the largest: the photo's subject, as `classify` lists them
        probs = face["probs"]
        ok8 += face["label"] == truth[name]
        ok7 += max(data.CK_CLASSES, key=lambda c: probs[c]) == truth[name]
    rep = {
        "frames": n,
        "face_found": round(found / n, 4),
        "accuracy_7way": round(ok7 / n, 4),
        "accuracy_8way": round(ok8 / n, 4),
        "note": "a frame with no face found counts as wrong",
    }
    if frac is not None:
        rep["face_frac"] = frac
    if roll:
        rep["roll_deg"] = roll
    return rep


def without_upright(model: str) -> str:
    """A temporary copy of the model that tells the app not to turn crops upright."""
    import onnx

    m = onnx.load(model)
    for p in m.metadata_props:
        if p.key == "crop_rotate":
            p.value = "false"
            break
    else:
        m.metadata_props.add(key="crop_rotate", value="false")
    out = Path(tempfile.mkdtemp()) / "no_upright.onnx"
    onnx.save(m, out)
    return str(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", default="8,9", help="CK+ folds the deployed model never trained on")
    ap.add_argument("--emocue", default=str(ROOT / "target" / "release" / "emocue"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--face-frac", default=None, help="comma-separated face sizes, as fractions of the frame height (default: 140-220 px)")
    ap.add_argument("--roll", default=None, help="comma-separated head tilts in degrees, clockwise (default: upright)")
    ap.add_argument("--no-upright", action="store_true", help="score a copy of the model whose crops are not turned upright (metadata crop_rotate=false), the 'before' of --roll")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.no_upright:
        a.model = without_upright(a.model or str(ROOT / "models" / "emotionnet_nano_b.int8.onnx"))
    imgs, labels, subjects, _ = data.load_ckplus()
    fmap = data.load_folds()
    folds = [int(k) for k in a.folds.split(",")]
    sel = np.where([fmap[s] in folds for s in subjects])[0]
    names = [data.CLASSES[labels[i]] for i in sel]
    if a.roll is not None:
        rep: dict | list = [run_chain(a, imgs[sel], names, None, float(r)) for r in a.roll.split(",")]
    elif a.face_frac is None:
        rep = run_chain(a, imgs[sel], names, None)
    else:
        rep = [run_chain(a, imgs[sel], names, float(f)) for f in a.face_frac.split(",")]
    print(json.dumps(rep, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
