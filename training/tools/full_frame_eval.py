"""Faces found and read when a photo is nothing but the face (session 23).

    cargo build --release
    python training/tools/full_frame_eval.py ../shared/data/ferplus/FER2013Test [--emocue BIN]

Runs `emocue classify --json --one-look` on a FER+ folder twice: each image as a full
frame (the detector must find a face that fills it, as in a tightly cropped photo or a
face close to the camera) and with `--crop` (the image is the face crop, no detector).
Scores both against the FER+ majority label (faces whose top vote is `unknown`/`NF`
dropped; a face not found counts as wrong) and prints, per run: faces found, top-1 over
all faces, top-1 over found faces, captions shown (not "not sure") and shown right.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]


def majority(folder: Path) -> dict[str, str]:
    out = {}
    with open(folder / "label.csv", newline="") as f:
        for row in csv.reader(f):
            votes = [int(v) for v in row[2:12]]
            if max(votes[:8]) <= max(votes[8:10]):
                continue
            out[row[0]] = CLASSES[max(range(8), key=lambda i: votes[i])]
    return out


def score(emocue: Path, folder: Path, labels: dict[str, str], crop: bool) -> dict:
    cmd = [str(emocue), "classify", "--json", "--one-look", str(folder)] + (["--crop"] if crop else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"full_frame_eval: {' '.join(cmd)} failed: {r.stderr.strip()}")
    n = found = right = shown = shown_right = 0
    for line in r.stdout.splitlines():
        v = json.loads(line)
        want = labels.get(Path(v["file"]).name)
        if want is None:
            continue
        n += 1
        if v.get("faces"):
            face = v["faces"][0]
            found += 1
            right += face["label"] == want
            if not face.get("unsure"):
                shown += 1
                shown_right += face["label"] == want
    d = max(n, 1)
    return {"faces": n, "found": round(found / d, 4), "top1": round(right / d, 4),
            "top1_found": round(right / max(found, 1), 4), "shown": round(shown / d, 4),
            "shown_right": round(shown_right / max(shown, 1), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="a FER+ folder with label.csv")
    ap.add_argument("--emocue", type=Path, default=ROOT / "target/release/emocue")
    a = ap.parse_args()
    if not (a.folder / "label.csv").exists():
        sys.exit(f"full_frame_eval: {a.folder}/label.csv not found (a FER+ folder, e.g. ../shared/data/ferplus/FER2013Test)")
    labels = majority(a.folder)
    out = {"full_frame": score(a.emocue, a.folder, labels, False), "crop": score(a.emocue, a.folder, labels, True)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
