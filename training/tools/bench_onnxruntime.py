"""The same ONNX files as `emocue bench`, in onnxruntime (CPU, one thread), printing the
same JSON keys, so the two can be compared side by side in one run:

    target/release/emocue bench --json > /tmp/tract.json
    python training/tools/bench_onnxruntime.py --json > /tmp/ort.json

onnxruntime times only the model call (inputs prepared beforehand); emocue's
`detector_640x480` also includes letterboxing and decoding, and its classifier numbers
include the mirror-image average (tta_flip), so emocue runs twice the images there:
this script does the same (2 images per face when the model's metadata asks for it)
for a like-for-like comparison, and reports `images_per_s` beside faces (`per_s`).

`emocue bench --onnxruntime PYTHON` runs this script itself after its own
measurements, on the files it timed (`--classifier-base`, `--detector`), and puts the
ratios in its JSON (`vs_onnxruntime`).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]


def measure(secs: float, items: int, f) -> dict:
    for _ in range(3):
        f()
    lat = []
    start = time.perf_counter()
    while time.perf_counter() - start < secs or len(lat) < 5:
        t = time.perf_counter()
        f()
        lat.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - start
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, max(0, int(np.ceil(q * len(lat))) - 1))]  # noqa: E731
    return {"per_s": round(len(lat) * items / total, 3), "p50_ms": round(pick(0.5), 3), "p95_ms": round(pick(0.95), 3), "calls": len(lat)}


def session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def images_per_face(s: ort.InferenceSession) -> int:
    """2 when the model asks for the mirror-image average (metadata tta_flip), as emocue runs it."""
    meta = s.get_modelmeta().custom_metadata_map
    return 2 if meta.get("tta_flip", "false").strip().lower() == "true" else 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", default=None, help="one classifier file (key classifier_model_*), as `emocue bench --model`")
    ap.add_argument("--classifier-only", action="store_true")
    ap.add_argument("--classifier-base", default=str(ROOT / "models" / "emotionnet_nano_b"),
                    help="classifier family: BASE{.w8,.int8,}.onnx, those that exist")
    ap.add_argument("--detector", default=str(ROOT / "models" / "blazeface_full_range.onnx"))
    a = ap.parse_args()
    out = {}
    rng = np.random.default_rng(0)
    models = [(k, Path(f"{a.classifier_base}{s}")) for k, s in (("w8", ".w8.onnx"), ("int8", ".int8.onnx"), ("f32", ".onnx"))]
    if a.model:
        models = [("model", Path(a.model))]
    for key, path in models:
        if not path.exists() and not a.model:
            continue
        s = session(path)
        n = images_per_face(s)
        for b in (1, 4):
            x = rng.uniform(-1, 1, (n * b, 1, 48, 48)).astype(np.float32)  # faces (+ mirrors)
            m = measure(a.seconds, b, lambda: s.run(None, {"input": x}))
            m.update(images_per_face=n, images_per_s=round(m["per_s"] * n, 3))
            out[f"classifier_{key}_batch{b}"] = m
    if not a.classifier_only:
        d = session(Path(a.detector))
        x = rng.uniform(-1, 1, (1, 3, 192, 192)).astype(np.float32)
        m = measure(a.seconds, 1, lambda: d.run(None, {"input": x}))
        m.update(images_per_face=1, images_per_s=m["per_s"])
        out["detector_640x480"] = m
    out["threads"] = 1
    out["runtime"] = f"onnxruntime {ort.__version__}"
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(k, v)


if __name__ == "__main__":
    main()
