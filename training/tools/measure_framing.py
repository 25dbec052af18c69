"""Measure how the 48x48 training crops are framed relative to a BlazeFace detection.

Each crop (FER+ train sample, all CK+48) is upscaled x4 (bicubic) to 192x192 RGB and
pasted in the centre of a neutral-gray canvas (576x576, so the face fills a realistic
third of the frame); the full-range detector (our ONNX + tools/blazeface.py decoding) runs on
the canvas and its best face is expressed in crop units:

  S_w = crop_side / box_w, S_h = crop_side / box_h,
  dx = (crop_cx - box_cx) / box_w, dy = (crop_cy - box_cy) / box_w,
  eye_dist = |left_eye - right_eye| / box_w, eye_y = (mean eye y - box_ymin) / box_h,
  roll = atan2 of the eye vector (image-left eye -> image-right eye), degrees, + = clockwise.

The app's crop rule follows: a square of side S*box_w centred at
box_centre + (dx, dy)*box_w, rotated upright by the eye angle.

    python training/tools/measure_framing.py [--fer 1500] [--out training/framing.json]
"""
import argparse
import csv
import glob
import json
import os

import numpy as np
from PIL import Image

from blazeface import BlazeFace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CROP, UPSCALE, GRAY = 48, 4, 128


def fer_paths(data, n, seed):
    """n random FER2013Train images that the majority protocol keeps (top vote not unknown/NF)."""
    folder = os.path.join(data, "ferplus", "FER2013Train")
    keep = []
    with open(os.path.join(folder, "label.csv")) as f:
        for row in csv.reader(f):
            votes = np.array(row[2:], float)
            if votes.argmax() < 8:  # columns 8, 9 are unknown, NF
                keep.append(os.path.join(folder, row[0]))
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(sorted(keep), size=min(n, len(keep)), replace=False))


def ck_paths(data):
    return sorted(glob.glob(os.path.join(data, "ckplus48", "*", "*.png")))


def measure(det, path, canvas_size=576):
    """Framing numbers for one crop, or None when no face is found."""
    side = CROP * UPSCALE
    crop = Image.open(path).convert("L").convert("RGB").resize((side, side), Image.BICUBIC)
    canvas = Image.new("RGB", (canvas_size,) * 2, (GRAY,) * 3)
    off = (canvas_size - side) // 2
    canvas.paste(crop, (off, off))
    faces = det(canvas)
    if not faces:
        return None
    f = faces[0]  # highest score
    x0, y0, x1, y1 = f["box"]
    bw, bh, bcx, bcy = x1 - x0, y1 - y0, (x0 + x1) / 2, (y0 + y1) / 2
    c = off + side / 2
    right_eye, left_eye = f["keypoints"][0], f["keypoints"][1]  # subject's right = image left
    ev = left_eye - right_eye
    return {
        "score": f["score"],
        "S_w": side / bw, "S_h": side / bh,
        "dx": (c - bcx) / bw, "dy": (c - bcy) / bw,
        "box_aspect": bh / bw,
        "eye_dist": float(np.hypot(*ev)) / bw,
        "eye_y": ((right_eye[1] + left_eye[1]) / 2 - y0) / bh,
        "roll_deg": float(np.degrees(np.arctan2(ev[1], ev[0]))),
        "crop_over_eye_dist": side / float(np.hypot(*ev)),
    }


def summarise(rows, n_total):
    out = {"n": n_total, "detected": len(rows), "detection_rate": round(len(rows) / n_total, 4)}
    for k in rows[0]:
        v = np.array([r[k] for r in rows])
        q25, med, q75 = np.percentile(v, [25, 50, 75])
        out[k] = {"median": round(float(med), 4), "q25": round(float(q25), 4),
                  "q75": round(float(q75), 4)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--onnx", default=os.path.join(ROOT, "models", "blazeface_full_range.onnx"))
    ap.add_argument("--fer", type=int, default=1500, help="number of FER2013Train images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--canvas", type=int, default=576, help="canvas side (crop is 192)")
    ap.add_argument("--out", help="write the JSON summary here (e.g. training/framing.json)")
    args = ap.parse_args()

    det = BlazeFace(args.onnx, threads=1)
    summary = {"setup": {"crop": CROP, "upscale": UPSCALE, "resample": "bicubic",
                         "canvas": args.canvas, "canvas_gray": GRAY, "detector": "blazeface full-range",
                         "fer_sample": args.fer, "seed": args.seed,
                         "units": "S_w, S_h: crop side / box side; dx, dy, eye_dist: box widths; "
                                  "eye_y: box heights from the box top; roll_deg: + = clockwise"}}
    for name, paths in [("ferplus", fer_paths(args.data, args.fer, args.seed)),
                        ("ckplus", ck_paths(args.data))]:
        rows = [r for r in (measure(det, p, args.canvas) for p in paths) if r is not None]
        summary[name] = summarise(rows, len(paths))
    s = summary["ferplus"]
    summary["crop_rule"] = {
        "rule": "square crop of side S*box_w centred at box_centre + (dx*box_w, dy*box_w), "
                "rotated upright by the eye angle (FER+ medians; the deployed model is FER+)",
        "S": s["S_w"]["median"], "dx": s["dx"]["median"], "dy": s["dy"]["median"]}
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
