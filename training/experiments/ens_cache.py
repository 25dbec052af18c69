"""Soft labels from an ensemble of a registry teacher and our own shipped network,
cached like a teacher's (issue 18, point 2: "distillation from an ensemble of the
teachers and our own networks").

    python training/teacher_labels.py --teacher face-api --sets lfw
    python training/teacher_labels.py --teacher facex --sets lfw
    python training/experiments/ens_cache.py [--teacher face-api] [--ours models/emotionnet_nano_b.onnx]
        [--sets lfw,fer-train] [--name ens]

For each face: our network's probabilities (its temperature, mirror-averaged as the app
reads a photo) and, where the teachers have cached labels, the mean of ours and each
teacher's (`--teacher face-api,facex`: three members, equal weight); a teacher's missing
classes (face-api and facex: contempt) keep our network's share in its member. A set the
teacher has not labelled (fer-train, whose faces keep their human votes in training
at `--kd-alpha 0`) gets our network's probabilities alone. Written to
`training/.cache/teachers/<name>/<set>.npz` so that `train.py --teacher-cache <name>
--extra-faces lfw` reads it like any teacher.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tools")]
import data  # noqa: E402
import teacher_labels  # noqa: E402
import transfer_thresholds as tt  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", default="face-api", help="a teacher, or a comma list of teachers averaged with ours (face-api,facex)")
    ap.add_argument("--ours", type=Path, default=ROOT / "models/emotionnet_nano_b.onnx")
    ap.add_argument("--sets", default="lfw,fer-train")
    ap.add_argument("--name", default="ens")
    ap.add_argument("--agree", action="store_true", help="keep only the faces whose top class every member shares (confident labels, fewer faces)")
    a = ap.parse_args()
    out_dir = teacher_labels.CACHE / a.name
    out_dir.mkdir(parents=True, exist_ok=True)
    for set_name in [s for s in a.sets.split(",") if s]:
        names, _ = teacher_labels.load_set(set_name)
        # the 48x48 crops training reads (lfw's 112x112 faces downscaled as train.py does)
        ours = tt.probs(a.ours, data.load_faces(names)).astype(np.float64)
        members, used = [ours], []
        for teacher in [t for t in a.teacher.split(",") if t]:
            cached = teacher_labels.CACHE / teacher / f"{set_name}.npz"
            if not cached.exists():
                continue
            z = np.load(cached)
            row = {n: i for i, n in enumerate(z["names"])}
            missing = [n for n in names if n not in row]
            if missing:
                sys.exit(f"ens_cache: {len(missing)} {set_name} faces have no {teacher} label (e.g. {missing[0]})")
            t = z["probs"][[row[n] for n in names]].astype(np.float64)
            members.append(teacher_labels.as_member(ours, t, z["has"].astype(bool)))
            used.append(teacher)
        probs = np.mean(members, axis=0)
        how = f"mean of ours and {', '.join(used)}" if used else "ours alone"
        if a.agree and used:
            tops = np.stack([m.argmax(1) for m in members])
            keep = (tops == tops[0]).all(0)
            names, probs, ours = [n for n, k in zip(names, keep) if k], probs[keep], ours[keep]
            how += f", only the {keep.sum()} faces all {len(members)} agree on"
        np.savez_compressed(
            out_dir / f"{set_name}.npz",
            names=np.array(names),
            probs=probs.astype(np.float32),
            has=np.ones(probs.shape[1], bool),
        )
        agree = float((probs.argmax(1) == ours.argmax(1)).mean())
        print(f"{set_name}: {len(names)} faces, {how}; top class as ours alone on {100 * agree:.1f} %")


if __name__ == "__main__":
    main()
