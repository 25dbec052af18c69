"""Teacher soft labels from the PyPI package facex 1.1.0 (MIT): its 7-class expression
network (`facex/assets/model_optimized.tflite`), run with PyPI's LiteRT interpreter
(`ai-edge-litert`) in the teacher's own environment, so that neither TensorFlow nor
OpenCV (facex's declared dependencies, needed only for its face finder) is installed.

    <teacher venv>/bin/python facex_run.py MODEL.tflite IN.u8 N SIZE OUT.f32

IN.u8 holds N grey SIZE x SIZE crops (row-major bytes), written by
training/teacher_labels.py; OUT.f32 gets N x 7 little-endian float32 probabilities in
the network's order: anger, disgust, fear, happy, neutral, sadness, surprised.
Preprocessing is facex's own (`facex.utils.input_resize`): the grey crop resized to
200 x 200, copied to three channels, scaled to [0, 1].
"""

from __future__ import annotations

import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

SIDE = 200
CLASSES = 7


def main() -> None:
    if len(sys.argv) != 6:
        sys.exit("usage: facex_run.py MODEL.tflite IN.u8 N SIZE OUT.f32")
    model, src, n_arg, size_arg, dst = sys.argv[1:]
    n, size = int(n_arg), int(size_arg)
    if not (n > 0 and 0 < size <= 1024):
        sys.exit(f"facex_run: bad N {n} or SIZE {size}")
    raw = np.fromfile(src, dtype=np.uint8)
    if raw.size != n * size * size:
        sys.exit(f"facex_run: {src} holds {raw.size} bytes, expected {n} x {size} x {size}")
    crops = raw.reshape(n, size, size)
    it = Interpreter(model_path=model, num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    out_idx = it.get_output_details()[0]["index"]
    out = np.empty((n, CLASSES), dtype="<f4")
    for i in range(n):
        a = np.asarray(Image.fromarray(crops[i]).resize((SIDE, SIDE), Image.BILINEAR), dtype=np.float32) / 255.0
        it.set_tensor(inp, np.repeat(a[None, :, :, None], 3, axis=3))
        it.invoke()
        out[i] = it.get_tensor(out_idx)[0]
        if i % 2000 == 0:
            print(f"facex: {i + 1}/{n}", file=sys.stderr, flush=True)
    out.tofile(dst)


if __name__ == "__main__":
    main()
