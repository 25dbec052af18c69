"""A `train.py` checkpoint recovered from a shipped EmotionNet ONNX file.

Checkpoints live in `training/runs/`, which git ignores, so a fresh machine has none:
every later run that starts from the deployed network (`--init`, `--teacher`,
`training/experiments/gpu_kd.sh`) would have to retrain it first. The shipped files hold the same
weights, with each batch norm folded into its convolution by the export; this script
takes them back out:

    python from_onnx.py ../models/emotionnet_nano_b.onnx runs/deployed/best.pt
    python from_onnx.py ../models/fer_only/emotionnet_nano_b_fer.int8.onnx runs/fer_only/best.pt

An int8 (QDQ) file works too: its weights are dequantized, so the network is the int8
one's, not bit-for-bit the f32 it came from.

Unfolding: each convolution gets its folded weights, and its batch norm the statistics
of that convolution's output over training images (mean m, variance v), with scale
sqrt(v + eps) and shift (folded bias + m). In eval mode that is exactly the file's
function, which the script checks on real images against onnxruntime; in training mode
the batch statistics are close to (m, v), so fine-tuning starts where the file stands,
not from a network whose activations the first batches rescale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

import augment
import data
from train import build, predict, to_tensor


def constants(model: onnx.ModelProto):
    """name -> array for every initializer and every DequantizeLinear of initializers."""
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = dict(init)
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear" and all(i in init for i in n.input if i):
            x = init[n.input[0]].astype(np.float64)
            scale = init[n.input[1]].astype(np.float64)
            zp = init[n.input[2]].astype(np.float64) if len(n.input) > 2 and n.input[2] else 0.0
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            if np.ndim(scale) == 1 and x.ndim > 1:
                shape = [1] * x.ndim
                shape[axis] = -1
                scale = scale.reshape(shape)
                zp = np.reshape(zp, shape) if np.ndim(zp) == 1 else zp
            out[n.output[0]] = ((x - zp) * scale).astype(np.float32)
    return out


def arch_of(meta: dict[str, str]) -> str:
    arch = meta.get("arch", "")
    for key, name in (("b2", "Nano-B2"), ("a2", "Nano-A2"), ("b", "Nano-B"), ("a", "Nano-A")):
        if name in arch:
            return key
    sys.exit(f"error: the file's metadata names no EmotionNet arch ({arch!r}); export it with training/export.py")


def recover(m: onnx.ModelProto, path: Path, calib: np.ndarray) -> tuple[torch.nn.Module, dict]:
    meta = {p.key: p.value for p in m.metadata_props}
    labels = meta["labels"].split(",")
    arch, upsample = arch_of(meta), int(meta.get("upsample", "0"))
    net = build(arch, len(labels), upsample=upsample)
    const = constants(m)
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    gemm = [n for n in m.graph.node if n.op_type == "Gemm"]
    # the torch convolutions in the order the forward pass runs them = the export's node order
    order: list[torch.nn.Conv2d] = []
    hooks = [c.register_forward_hook(lambda mod, i, o: order.append(mod)) for c in net.modules() if isinstance(c, torch.nn.Conv2d)]
    net.eval()(torch.zeros(1, 1, 48, 48))
    for h in hooks:
        h.remove()
    bn_of = {}
    for mod in net.modules():
        kids = list(mod.children())
        for a, b in zip(kids, kids[1:]):
            if isinstance(a, torch.nn.Conv2d) and isinstance(b, torch.nn.BatchNorm2d):
                bn_of[a] = b
    if len(order) != len(convs) or len(gemm) != 1:
        sys.exit(f"error: {path} has {len(convs)} convolutions and {len(gemm)} Gemm; Nano-{arch.upper()} has {len(order)} and 1")
    with torch.no_grad():
        for conv, node in zip(order, convs):
            w = const[node.input[1]]
            b = const[node.input[2]] if len(node.input) > 2 else np.zeros(w.shape[0], np.float32)
            if tuple(w.shape) != tuple(conv.weight.shape):
                sys.exit(f"error: convolution {node.name}: {w.shape} in the file, {tuple(conv.weight.shape)} in Nano-{arch.upper()}")
            conv.weight.copy_(torch.from_numpy(np.array(w)))
            bn = bn_of[conv]
            # identity batch norm carrying the folded bias: exact in eval mode
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(np.array(b)))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        g = gemm[0]
        wfc = const[g.input[1]]
        trans_b = next((a.i for a in g.attribute if a.name == "transB"), 0)
        net.fc.weight.copy_(torch.from_numpy(np.array(wfc if trans_b else wfc.T)))
        net.fc.bias.copy_(torch.from_numpy(np.array(const[g.input[2]])))
        # statistics of each convolution's own output (no bias: the conv has none)
        stats: dict[torch.nn.Conv2d, list] = {c: [0.0, 0.0, 0] for c in order}

        def record(mod, inp, out):
            s = stats[mod]
            s[0] = s[0] + out.sum((0, 2, 3)).double()
            s[1] = s[1] + (out.double() ** 2).sum((0, 2, 3))
            s[2] += out.shape[0] * out.shape[2] * out.shape[3]

        hooks = [c.register_forward_hook(record) for c in order]
        for i in range(0, len(calib), 512):
            net(augment.normalise(to_tensor(calib[i : i + 512])))
        for h in hooks:
            h.remove()
        for conv in order:
            s0, s1, n = stats[conv]
            mean = s0 / n
            var = (s1 / n - mean**2).clamp(min=1e-8)
            bn = bn_of[conv]
            bn.running_mean.copy_(mean.float())
            bn.running_var.copy_(var.float())
            bn.weight.copy_(torch.sqrt(var + bn.eps).float())
            bn.bias.add_(mean.float())
    ck = {"state_dict": net.state_dict(), "arch": arch, "n_classes": len(labels), "width": 48, "upsample": upsample, "epoch": 0, "from_onnx": str(path)}
    return net, ck


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("onnx", type=Path, help="an EmotionNet file exported by training/export.py (f32 or int8 QDQ)")
    ap.add_argument("out", type=Path, help="where to write the checkpoint (e.g. runs/deployed/best.pt)")
    ap.add_argument("--calib-n", type=int, default=4096, help="FER2013Train images for the batch-norm statistics")
    ap.add_argument("--limit", type=int, default=None, help="smoke test: read fewer images")
    a = ap.parse_args()
    if not a.onnx.is_file():
        sys.exit(f"error: {a.onnx}: no such file")
    imgs, _, _ = data.load_ferplus("train", a.limit)
    rng = np.random.default_rng(0)
    calib = imgs[np.sort(rng.choice(len(imgs), min(a.calib_n, len(imgs)), replace=False))]
    model = onnx.load(str(a.onnx))
    net, ck = recover(model, a.onnx, calib)
    # the recovered network must compute what the file computes
    test, _, _ = data.load_ferplus("valid", 512 if a.limit is None else min(a.limit, 512))
    sess = ort.InferenceSession(str(a.onnx), providers=["CPUExecutionProvider"])
    x = augment.normalise(to_tensor(test)).numpy()
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    got = predict(net, test)
    diff = float(np.abs(ref - got).max())
    agree = float((ref.argmax(1) == got.argmax(1)).mean())
    print(f"{a.onnx} -> {a.out}: Nano-{ck['arch'].upper()}, {len(test)} FER2013Valid images, max |logit difference| {diff:.2e}, argmax agreement {agree:.2%}")
    int8 = any(n.op_type == "DequantizeLinear" for n in model.graph.node)
    if not int8 and diff > 1e-3:
        sys.exit(f"error: the recovered network differs from the file by {diff:.2e}")
    if int8 and agree < 0.97:
        sys.exit(f"error: the recovered network agrees with the int8 file on only {agree:.2%} of faces")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ck, a.out)


if __name__ == "__main__":
    main()
