"""Are turned faces read worse? (issue 18, point 4: "not sure" for a turned face)

    cargo build --release
    python training/experiments/yaw_probe.py [--split FER2013Valid] [--work /tmp/yaw_probe]

FER+ faces are 48x48 tight crops, too tight for the detector: each is centred on a
mid-grey 112x112 canvas and scaled to 224x224, the folder is replayed through
`emocue replay` (the live path: detector, keypoints, crop, classifier), and every
frame's raw reading is scored against the FER+ majority label (faces whose top vote is
unknown or not-a-face are left out). Turn is measured two ways from BlazeFace's
keypoints: the nose's offset from the eyes' midpoint along the eye line, in eye
distances, and the nose-to-ear distance asymmetry. Prints accuracy, coverage and
shown-caption precision (the shipped en.toml thresholds) per quantile bin of turn.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/ferplus")
    ap.add_argument("--split", default="FER2013Valid")
    ap.add_argument("--work", type=Path, default=Path("/tmp/yaw_probe"))
    ap.add_argument("--emocue", type=Path, default=ROOT / "target/release/emocue")
    a = ap.parse_args()
    src = a.data / a.split
    if not (src / "label.csv").exists():
        sys.exit(f"yaw_probe: no {src}/label.csv (needs ../shared/data, see its README.md)")
    frames = a.work / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    labels = []
    with open(src / "label.csv") as f:
        for row in csv.reader(f):
            votes = np.array([int(x) for x in row[2:12]])
            if votes[:8].max() <= votes[8:].max():
                continue
            face = np.asarray(Image.open(src / row[0]).convert("L"))[:48, :48]
            canvas = np.full((112, 112), 128, np.uint8)
            canvas[32:32 + face.shape[0], 32:32 + face.shape[1]] = face
            Image.fromarray(canvas).resize((224, 224), Image.BILINEAR).save(frames / f"{len(labels):05d}.png")
            labels.append(KEYS[int(votes[:8].argmax())])
    events = a.work / "events.jsonl"
    subprocess.run([str(a.emocue), "replay", str(frames), "--no-timing", "--events", str(events)], check=True)
    profile = tomllib.loads((ROOT / "config/labels/en.toml").read_text())
    th = {k: profile[k]["min_confidence"] for k in KEYS}
    rows = []
    for line in open(events):
        e = json.loads(line)
        faces = [f for f in e["faces"] if f.get("raw") and f.get("detected")]
        if not faces or e["frame"] >= len(labels):
            continue
        f = max(faces, key=lambda f: f["box"][2])
        kp = {k: np.array(v) for k, v in f["keypoints"].items()}
        eyes = kp["left_eye"] - kp["right_eye"]
        d = float(np.linalg.norm(eyes))
        if d <= 0:
            continue
        eye_turn = abs(float(np.dot(kp["nose"] - (kp["left_eye"] + kp["right_eye"]) / 2, eyes / d)) / d)
        dr, dl = np.linalg.norm(kp["nose"] - kp["right_ear"]), np.linalg.norm(kp["nose"] - kp["left_ear"])
        ear_turn = abs(float((dr - dl) / (dr + dl)))
        best = max(f["raw"], key=f["raw"].get)
        rows.append((eye_turn, ear_turn, best == labels[e["frame"]], f["raw"][best] >= th[best]))
    r = np.array(rows, dtype=float)
    print(f"{a.split}: {len(labels)} faces, {len(r)} found by the detector")
    for col, name in [(0, "nose offset from the eyes' midpoint (eye distances)"), (1, "nose-to-ear asymmetry")]:
        edges = np.percentile(r[:, col], [0, 25, 50, 75, 90, 95, 100])
        print(name)
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = (r[:, col] >= lo) & (r[:, col] <= hi)
            shown = m & (r[:, 3] > 0)
            print(f"  [{lo:.2f}, {hi:.2f}]  n={m.sum():4d}  top-1 {r[m, 2].mean():.3f}  "
                  f"shown {shown.sum() / m.sum():.3f}  shown right {r[shown, 2].mean():.3f}")


if __name__ == "__main__":
    main()
