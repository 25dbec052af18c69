"""Int8 forms of one f32 classifier, for finding the fastest form tract runs correctly
(issue 2 point 4, issue 7 point 3). Writes each variant and scores it against the f32
model on FER2013Test in onnxruntime (accuracy, argmax agreement); time them in tract
with `emocue bench --model FILE --classifier-only`.

    python training/tools/quant_forms.py models/emotionnet_nano_b.onnx --out /tmp/qforms

The winner for tract, int8 weights with f32 activations (`weight_only`), is what the
app runs by default; write it next to the f32 model with:

    python training/tools/quant_forms.py models/emotionnet_nano_b.onnx --w8 models/emotionnet_nano_b.w8.onnx
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx

import sys
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]  # training/ (the core modules) and training/tools/, from any working directory

import data
from evaluate import logits, session
from export import Calib, set_meta

VARIANTS = {
    # name: (format, ops to quantize (None = all), per_channel)
    "qdq_all_pc": ("QDQ", None, True),
    "qdq_conv_pc": ("QDQ", ["Conv"], True),
    "qdq_all_pt": ("QDQ", None, False),
    "qop_conv_pc": ("QOperator", ["Conv"], True),
    "qop_conv_pt": ("QOperator", ["Conv"], False),
}
# plus "wq_pc": weight_only() below, scored the same way


def main() -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    ap = argparse.ArgumentParser()
    ap.add_argument("f32")
    ap.add_argument("--out", default=None)
    ap.add_argument("--w8", default=None, help="write only the weight-only int8 file here")
    ap.add_argument("--calib-n", type=int, default=1024)
    a = ap.parse_args()
    if a.w8:
        weight_only(a.f32, a.w8)
        meta = {p.key: p.value for p in onnx.load(a.f32).metadata_props}
        meta["precision"] = "int8 weights (per-channel symmetric, DequantizeLinear), f32 activations"
        set_meta(Path(a.w8), meta)
        print("wrote", a.w8)
        return
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
        set_meta(path, meta)
        ops_used = sorted({n.op_type for n in onnx.load(path).graph.node})
        p = logits(session(str(path))[0], test[keep]).argmax(1)
        rows[name] = {
            "accuracy": round(float((p == maj[keep]).mean()), 4),
            "agreement_with_f32": round(float((p == ref).mean()), 4),
            "ops": ops_used,
            "bytes": path.stat().st_size,
        }
        print(name, json.dumps(rows[name]), flush=True)
    path = out / "wq_pc.int8.onnx"
    weight_only(a.f32, str(path))
    p = logits(session(str(path))[0], test[keep]).argmax(1)
    rows["wq_pc"] = {
        "accuracy": round(float((p == maj[keep]).mean()), 4),
        "agreement_with_f32": round(float((p == ref).mean()), 4),
        "ops": sorted({n.op_type for n in onnx.load(path).graph.node}),
        "bytes": path.stat().st_size,
    }
    print("wq_pc", json.dumps(rows["wq_pc"]), flush=True)
    (out / "quant_forms.json").write_text(json.dumps(rows, indent=1))



def weight_only(f32: str, out: str) -> None:
    """int8 per-channel symmetric weights behind DequantizeLinear, f32 activations: the
    file carries int8 weights, and a runtime that folds constant DequantizeLinear (tract
    does) computes in f32 at f32 speed."""
    from onnx import helper, numpy_helper

    m = onnx.load(f32)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    conv_w = {n.input[1] for n in g.node if n.op_type == "Conv"}
    new_nodes = []
    for name in sorted(conv_w):
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        scale = np.abs(w).reshape(w.shape[0], -1).max(1) / 127.0
        scale = np.maximum(scale, 1e-12).astype(np.float32)
        q = np.clip(np.round(w / scale.reshape(-1, *[1] * (w.ndim - 1))), -127, 127).astype(np.int8)
        g.initializer.remove(inits[name])
        g.initializer.extend([
            numpy_helper.from_array(q, name + "_q"),
            numpy_helper.from_array(scale, name + "_scale"),
            numpy_helper.from_array(np.zeros(w.shape[0], np.int8), name + "_zp"),
        ])
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zp"], [name], axis=0))
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(new_nodes + nodes)
    onnx.checker.check_model(m)
    onnx.save(m, out)


if __name__ == "__main__":
    main()
