"""Builds the bundled sample clip samples/astronaut/ from scikit-image's astronaut
photograph (Eileen Collins, NASA, public domain): 60 JPEG frames, 320x240, 15 fps,
with simulated head and camera motion (pan, roll, zoom, exposure drift, sensor noise).

    pip install scikit-image && python training/tools/make_sample_clip.py
"""

import math
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

OUT = Path(__file__).resolve().parents[2] / "samples" / "astronaut"
N, FPS, W, H = 60, 15, 320, 240


def main() -> None:
    src = Image.fromarray(skdata.astronaut())  # 512x512 RGB
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.jpg"):
        old.unlink()
    rng = np.random.default_rng(0)
    for i in range(N):
        t = i / FPS
        # head/camera motion: slow pan, a little roll and zoom, hand shake
        cx = 250 + 40 * math.sin(2 * math.pi * t / 4) + rng.normal(0, 1.5)
        cy = 170 + 15 * math.sin(2 * math.pi * t / 3) + rng.normal(0, 1.5)
        zoom = 1.0 + 0.15 * math.sin(2 * math.pi * t / 5)
        roll = 8 * math.sin(2 * math.pi * t / 3.5)
        w, h = 400 / zoom, 300 / zoom
        rot = src.rotate(roll, center=(cx, cy), resample=Image.BILINEAR)
        frame = rot.crop((int(cx - w / 2), int(cy - h / 2), int(cx + w / 2), int(cy + h / 2))).resize((W, H), Image.LANCZOS)
        a = np.asarray(frame).astype(np.float32)
        a = a * (0.85 + 0.15 * math.cos(2 * math.pi * t / 4)) + rng.normal(0, 3, a.shape)
        Image.fromarray(a.clip(0, 255).astype(np.uint8)).save(OUT / f"frame_{i:03d}.jpg", quality=85)
    (OUT / "README.md").write_text(
        "Sample clip for `emocue replay samples/astronaut --fps 15`: 60 frames made by\n"
        "`training/tools/make_sample_clip.py` from scikit-image's `astronaut` photograph\n"
        "(Eileen Collins, NASA; public domain), with simulated head and camera motion.\n"
    )
    print(f"wrote {N} frames to {OUT}")


if __name__ == "__main__":
    main()
