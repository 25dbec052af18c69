"""Rewrite two BlazeFace ops into forms tract runs faster, with the same results.

`emocue bench --profile --model models/blazeface_full_range.onnx` showed tract spending
17 % of the detector in its generic MaxPool and 15 % in bilinear Resize. Both have exact
equivalents made of ops tract has fast paths for:

* MaxPool 2x2, stride 2, no padding -> max of the even and odd rows (strided Slice, which
  tract runs as Downsample), then of the even and odd columns. Bit-identical.
* Resize x2, bilinear, half_pixel -> along each axis: edge Pad, three shifted Slices,
  even = 0.75 x[i] + 0.25 x[i-1], odd = 0.75 x[i] + 0.25 x[i+1], interleaved by
  Unsqueeze + Concat + Reshape. Equal up to float rounding (max 3e-5 on the outputs).

    python training/tools/blazeface_graph.py IN.onnx OUT.onnx    # rewrite and verify
    python training/tools/blazeface_graph.py --self-test         # CI: a small graph, rewritten
tools/convert_blazeface.py applies it to the file it writes.
"""

from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference


def rewrite(m: onnx.ModelProto) -> onnx.ModelProto:
    inferred = shape_inference.infer_shapes(m)
    shapes = {
        vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    }
    g = m.graph
    nodes, inits = [], []

    def const(name: str, arr) -> str:
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def slice_(x: str, start: int, end: int, axis: int, step: int, name: str) -> str:
        args = [const(f"{name}_{k}", np.array([v], np.int64)) for k, v in (("st", start), ("en", end), ("ax", axis), ("sp", step))]
        return node("Slice", [x] + args, name)

    def attrs(n) -> dict:
        return {a.name: helper.get_attribute_value(a) for a in n.attribute}

    for n in g.node:
        a = attrs(n)
        if (
            n.op_type == "MaxPool"
            and list(a.get("kernel_shape", [])) == [2, 2]
            and list(a.get("strides", [])) == [2, 2]
            and not any(a.get("pads", [0]))
        ):
            x, p = n.input[0], n.output[0]
            rows = node("Max", [slice_(x, 0, 1 << 30, 2, 2, p + "_r0"), slice_(x, 1, 1 << 30, 2, 2, p + "_r1")], p + "_rows")
            node("Max", [slice_(rows, 0, 1 << 30, 3, 2, p + "_c0"), slice_(rows, 1, 1 << 30, 3, 2, p + "_c1")], p)
            continue
        if (
            n.op_type == "Resize"
            and a.get("mode") == b"linear"
            and a.get("coordinate_transformation_mode") == b"half_pixel"
        ):
            x, p = n.input[0], n.output[0]
            nb, c, h, w = shapes[x]
            if shapes.get(p) != [nb, c, 2 * h, 2 * w]:
                nodes.append(n)
                continue
            quarter = const(p + "_q", np.array(0.25, np.float32))
            three_q = const(p + "_t", np.array(0.75, np.float32))

            def up(inp: str, axis: int, size: int, tag: str) -> str:
                pads = [0] * 8
                pads[axis] = pads[axis + 4] = 1
                padded = node("Pad", [inp, const(tag + "_pads", np.array(pads, np.int64))], tag + "_pad", mode="edge")
                prev, cur, nxt = (slice_(padded, s, s + size, axis, 1, f"{tag}_s{s}") for s in (0, 1, 2))
                c75 = node("Mul", [cur, three_q], tag + "_c75")
                even = node("Add", [c75, node("Mul", [prev, quarter], tag + "_p25")], tag + "_even")
                odd = node("Add", [c75, node("Mul", [nxt, quarter], tag + "_n25")], tag + "_odd")
                ax = const(tag + "_ua", np.array([axis + 1], np.int64))
                pair = [node("Unsqueeze", [even, ax], tag + "_eu"), node("Unsqueeze", [odd, ax], tag + "_ou")]
                return node("Concat", pair, tag + "_cat", axis=axis + 1)

            tall = node("Reshape", [up(x, 2, h, p + "_h"), const(p + "_sh", np.array([nb, c, 2 * h, w], np.int64))], p + "_tall")
            node("Reshape", [up(tall, 3, w, p + "_w"), const(p + "_sw", np.array([nb, c, 2 * h, 2 * w], np.int64))], p)
            continue
        nodes.append(n)
    used = {i for n in nodes for i in n.input}
    kept = [t for t in g.initializer if t.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + inits)
    onnx.checker.check_model(m, full_check=True)
    return m


def max_difference(a: str, b: str, n: int = 4) -> float:
    """Largest output difference between two detector files on random inputs (onnxruntime)."""
    import onnxruntime as ort

    sa, sb = ort.InferenceSession(a), ort.InferenceSession(b)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(n):
        x = rng.uniform(-1, 1, (1, 3, 192, 192)).astype(np.float32)
        for u, v in zip(sa.run(None, {"input": x}), sb.run(None, {"input": x})):
            worst = max(worst, float(np.abs(u - v).max()))
    return worst


def self_test() -> None:
    """A small MaxPool -> bilinear Resize graph, rewritten and compared in onnxruntime."""
    import onnxruntime as ort

    x = helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 4, 12, 12])
    y = helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, [1, 4, 12, 12])
    sizes = numpy_helper.from_array(np.array([1, 4, 12, 12], np.int64), "sizes")
    graph = helper.make_graph(
        [
            helper.make_node("MaxPool", ["input"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node(
                "Resize", ["pooled", "", "", "sizes"], ["out"], mode="linear", coordinate_transformation_mode="half_pixel"
            ),
        ],
        "t",
        [x],
        [y],
        [sizes],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    before = m.SerializeToString()
    r = rewrite(m)
    ops = {n.op_type for n in r.graph.node}
    assert not ops & {"MaxPool", "Resize"}, ops
    inp = np.random.default_rng(1).normal(size=(1, 4, 12, 12)).astype(np.float32)
    a = ort.InferenceSession(before).run(None, {"input": inp})[0]
    b = ort.InferenceSession(r.SerializeToString()).run(None, {"input": inp})[0]
    diff = float(np.abs(a - b).max())
    assert diff < 1e-5, diff
    print(f"blazeface_graph self-test: MaxPool and Resize rewritten, max difference {diff:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", nargs="?")
    ap.add_argument("dst", nargs="?")
    ap.add_argument("--self-test", action="store_true", help="check the rewrite on a small graph (CI)")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    if not (a.src and a.dst):
        ap.error("give SRC and DST, or --self-test")
    m = rewrite(onnx.load(a.src))
    onnx.save(m, a.dst)
    diff = max_difference(a.src, a.dst)
    print(f"wrote {a.dst}: {len(m.graph.node)} nodes, max output difference {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit(f"rewrite changed the outputs by {diff}")


if __name__ == "__main__":
    main()
