"""Int8 forms of one f32 classifier, for finding the fastest form tract runs correctly
(issue 2 point 4, issue 7 point 3). Writes each variant and scores it against the f32
model on FER2013Test in onnxruntime (accuracy, argmax agreement); time them in tract
with `emocue bench --model FILE --classifier-only`.

    python training/quant_forms.py models/emotionnet_nano_b.onnx --out /tmp/qforms
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx

import data
from evaluate import logits, session
from export import Calib

VARIANTS = {
    # name: (format, ops to quantize (None = all), per_channel)
    "qdq_all_pc": ("QDQ", None, True),
    "qdq_conv_pc": ("QDQ", ["Conv"], True),
    "qdq_all_pt": ("QDQ", None, False),
    "qop_conv_pc": ("QOperator", ["Conv"], True),
    "qop_conv_pt": ("QOperator", ["Conv"], False),
}


def main() -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    ap = argparse.ArgumentParser()
    ap.add_argument("f32")
    ap.add_argument("--out", required=True)
    ap.add_argument("--calib-n", type=int, default=1024)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    imgs, _, _ = data.load_ferplus("train")
    pick = np.sort(np.random.default_rng(0).choice(len(imgs), a.calib_n, replace=False))
    meta = {p.key: p.value for p in onnx.load(a.f32).metadata_props}
    test, votes, _ = data.load_ferplus("test")
    maj = data.majority(votes)
    keep = maj >= 0
    ref = logits(session(a.f32)[0], test[keep]).argmax(1)
    rows = {"f32": {"accuracy": round(float((ref == maj[keep]).mean()), 4)}}
    for name, (fmt, ops, pc) in VARIANTS.items():
        path = out / f"{name}.int8.onnx"
        kw = {"op_types_to_quantize": ops} if ops else {}
        quantize_static(
            a.f32,
            str(path),
            Calib(imgs[pick]),
            quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
            per_channel=pc,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
            **kw,
        )
        m = onnx.load(path)
        del m.metadata_props[:]
        for k, v in meta.items():
            m.metadata_props.add(key=k, value=v)
        onnx.save(m, path)
        ops_used = sorted({n.op_type for n in m.graph.node})
        p = logits(session(str(path))[0], test[keep]).argmax(1)
        rows[name] = {
            "accuracy": round(float((p == maj[keep]).mean()), 4),
            "agreement_with_f32": round(float((p == ref).mean()), 4),
            "ops": ops_used,
            "bytes": path.stat().st_size,
        }
        print(name, json.dumps(rows[name]), flush=True)
    (out / "quant_forms.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
