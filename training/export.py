"""Export a checkpoint to ONNX (f32) and static int8, with the app's contract in
`metadata_props`, and a softmax temperature fitted on FER2013Valid.

    python training/export.py runs/deploy_b/best.pt --name emotionnet_nano_b --int8
    python training/export.py runs/ck_b_ferinit/fold3.pt --out-dir ../models/ckplus \
        --name nano_b_fold3 --int8 --no-f32 --calib ckplus

Int8 form: QDQ (QuantizeLinear/DequantizeLinear around f32 ops), per-channel
symmetric int8 weights, uint8 activations, calibrated (MinMax) on training images.
tract runs QDQ correctly; QOperator graphs with QLinearAdd/QGemm do not load in it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import torch

import data
from emonet import count_macs, count_params
from train import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
FRAMING = json.loads((Path(__file__).resolve().parent / "framing.json").read_text())


def contract(labels: list[str], temperature: float, extra: dict) -> dict[str, str]:
    fer = FRAMING["ferplus"]
    return {
        "labels": ",".join(labels),
        "input_name": "input",
        "input_shape": "N,1,48,48",
        "input_size": "48",
        "input_channels": "1",
        "input_mean": "0.5",
        "input_std": "0.5",
        "normalisation": "gray = BT.601 luma 0..255; x = (gray/255 - 0.5) / 0.5",
        "output": "logits (N, classes); probabilities = softmax(logits / temperature)",
        "temperature": f"{temperature:.4f}",
        "tta_flip": "true",
        "crop_scale": "1.18",
        "crop_dx": "0.0",
        "crop_dy": "-0.05",
        "crop_rotate": "true",
        # "training/measure_framing.py": the script's path when the shipped files were made
        # (now tools/), kept so a re-export writes the same metadata
        "crop_framing": (
            "square crop, side = 1.18 x BlazeFace full-range box width, centred 0.05 box widths "
            "above the box centre, rotated so the eyes are level; measured by "
            f"training/measure_framing.py (FER+ median S={fer['S_w']['median']}, dy={fer['dy']['median']})"
        ),
        "licence": "MIT OR Apache-2.0 (weights trained by emocue on FER+ labels, MIT, and FER2013/CK+ images, research use)",
        **{k: str(v) for k, v in extra.items()},
    }


def set_meta(path: Path, meta: dict[str, str]) -> None:
    m = onnx.load(str(path))
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, str(path))


def fit_temperature(model: torch.nn.Module, labels: list[str]) -> float:
    """Temperature minimising NLL of FER2013Valid majority labels (classes the model has)."""
    from train import predict

    imgs, votes, _ = data.load_ferplus("valid")
    maj = data.majority(votes)
    idx = [data.CLASSES.index(l) for l in labels]
    keep = np.isin(maj, idx)
    # the app averages the logits of the crop and its mirror image (tta_flip)
    x = imgs[keep]
    logits = torch.from_numpy((predict(model, x) + predict(model, x[:, :, ::-1].copy())) / 2)
    y = torch.tensor([idx.index(v) for v in maj[keep]])
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.exp())


class Calib:
    """Feeds calibration images to onnxruntime's quantizer."""

    def __init__(self, imgs: np.ndarray, bs: int = 64):
        x = (imgs.astype(np.float32) / 255.0 - 0.5) / 0.5
        self.batches = [x[i : i + bs, None] for i in range(0, len(x), bs)]
        self.i = 0

    def get_next(self):
        if self.i >= len(self.batches):
            return None
        self.i += 1
        return {"input": self.batches[self.i - 1]}


def float_ends(f32: Path) -> list[str]:
    """Nodes kept in f32: the stem conv (one input channel, 1.6 % of the MACs) and the
    pooled tail (ReduceMean, Concat, Gemm: a few thousand MACs). Quantizing them cost
    most of the int8/f32 disagreement (98.6 % -> 99.2 % agreement on FER2013Test).
    The input upsampling MatMuls, when the network has them, stay f32 as well."""
    g = onnx.load(str(f32)).graph
    first_conv = next(n.name for n in g.node if n.op_type == "Conv")
    head = [n.name for n in g.node if n.op_type == "MatMul"]
    pooled = {o for n in g.node if n.op_type == "ReduceMean" for o in n.output}
    tail = [n.name for n in g.node if n.op_type in ("ReduceMean", "Gemm")]
    tail += [n.name for n in g.node if n.op_type == "Concat" and set(n.input) & pooled]
    return head + [first_conv] + tail


def quantize(f32: Path, out: Path, calib_imgs: np.ndarray) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(f32),
        str(out),
        Calib(calib_imgs),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=float_ends(f32),
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
    )


def speech_clips(checkpoint: Path) -> list[str]:
    """The clips whose frames the run trained on (`train.py --talk-faces`, from its
    meta.json): written into the metadata so that a suite scoring the file on those clips
    knows it measures fit, not transfer (tools/suite.py)."""
    meta = checkpoint.parent / "meta.json"
    if not meta.exists():
        return []
    talk = json.loads(meta.read_text()).get("talk_faces") or ""
    clips = set()
    for f in [f for f in talk.split(",") if f]:
        path = Path(f) if Path(f).is_absolute() else Path(__file__).resolve().parent / f  # train.py runs in training/
        if not path.exists():
            raise SystemExit(f"export: {path}, which {meta} trained on, is gone; rewrite it with talk_frames.py")
        z = np.load(path)
        if "names" in z.files:  # synthetic faces (experiments/expr_transfer.py) come from no clip
            clips |= {str(n).split(":")[0] for n in z["names"]}
    return sorted(clips)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--name", required=True)
    ap.add_argument("--out-dir", default=str(ROOT / "models"))
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--no-f32", action="store_true", help="keep only the int8 file")
    ap.add_argument("--calib", choices=["ferplus", "ckplus"], default="ferplus")
    ap.add_argument("--calib-n", type=int, default=1024)
    ap.add_argument("--calib-exclude-fold", type=int, default=None, help="CK+ fold kept out of calibration")
    ap.add_argument("--no-temperature", action="store_true")
    ap.add_argument("--limit", type=int, default=None, help="smoke test: fewer images")
    a = ap.parse_args()

    model, ck = load_checkpoint(a.checkpoint)
    n = ck["n_classes"]
    labels = data.CLASSES if n == 8 else data.CK_CLASSES
    t = 1.0 if a.no_temperature else fit_temperature(model, labels)
    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    f32 = out_dir / f"{a.name}.onnx"
    torch.onnx.export(
        model,
        torch.zeros(1, 1, 48, 48),
        str(f32),
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        opset_version=13,
        dynamo=False,
    )
    extra = {
        "arch": f"EmotionNet Nano-{ck['arch'].upper()} (emocue design, training/emonet.py)",
        "params": count_params(model),
        "macs": count_macs(model),
        "upsample": ck.get("upsample", 0),
        "checkpoint": Path(a.checkpoint).as_posix().split("training/")[-1],
    }
    if clips := speech_clips(Path(a.checkpoint)):
        extra["trained_on_clips"] = ",".join(clips)
    meta = contract(labels, t, extra)
    set_meta(f32, {**meta, "precision": "f32"})
    print(f"wrote {f32} (temperature {t:.3f})")
    if a.int8:
        if a.calib == "ferplus":
            imgs, votes, _ = data.load_ferplus("train", a.limit)
        else:
            imgs, _, subj, _ = data.load_ckplus()
            if a.calib_exclude_fold is not None:
                fmap = data.load_folds()
                imgs = imgs[np.array([fmap[x] != a.calib_exclude_fold for x in subj])]
        rng = np.random.default_rng(0)
        pick = rng.choice(len(imgs), min(a.calib_n, len(imgs)), replace=False)
        q = out_dir / f"{a.name}.int8.onnx"
        quantize(f32, q, imgs[np.sort(pick)])
        set_meta(q, {**meta, "precision": "int8 QDQ, per-channel symmetric weights, uint8 activations (MinMax calibration); stem conv and pooled tail f32"})
        print(f"wrote {q}")
        if a.no_f32:
            f32.unlink()


if __name__ == "__main__":
    main()
