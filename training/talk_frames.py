"""Faces of people talking, cropped as the app crops them, for training (issue 19, point 3).

    cargo build --release
    python training/talk_frames.py [--split tune] [--every 2] [--out training/.cache/talk/tune.npz]

A still-image network has seen few faces in mid-sentence: an open mouth on a vowel reads
as surprise, teeth as happiness, and a neutral speaker's caption flickers between "calm"
and "not sure". This writes the frames of the *neutral* speakers of one half of
`splits/talking.json` (GRID, LRS2 and the webcam clips: neutral speech throughout), every
`--every`-th frame, as 48x48 grey crops framed exactly as the app frames them: the
detections come from `emocue replay` itself (box and eye keypoints per frame), and the
crop follows the classifier's metadata (square of side `crop_scale` x box width, centred
`crop_dy` box widths above the box centre, rotated so the eyes are level).
With the detection schedule on (`[detection] every_frames`), frames between detections
use the box the app carried forward (`carried` in the events): the crop the app
classifies there too.

`train.py --talk-faces FILE` adds them with the label "neutral". Speakers of the other
half (`--split report`) stay unseen.

`--mead head|tail|all` writes MEAD M030's clips instead, each frame labelled with the
clip's acted emotion (issue 19, point 3: emotion while speaking). M030 is the only actor
with acted emotions, so he can be held out only in time: `head` is the first
`--head-share` of each clip, `tail` the rest; train on one part and replay the other
(`experiments/m030_timesplit.py`). That measures whether the network can learn speech
with an emotion without losing other domains, not whether it carries to other actors.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(HERE / "tools")]  # conversation_eval is in tools/
import conversation_eval as conv  # noqa: E402
import data  # noqa: E402

SIZE = 48
MAX_SIDE = 4096  # bound on a clip's frame size before a frame buffer is allocated


def crop_rule(model: Path) -> tuple[float, float, float]:
    meta = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    return float(meta.get("crop_scale", 1.18)), float(meta.get("crop_dx", 0.0)), float(meta.get("crop_dy", -0.05))


def y4m_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as f:
        header = f.readline(512).split()
    if not header or header[0] != b"YUV4MPEG2":
        sys.exit(f"talk_frames: {path} is not a Y4M clip")
    w = next(int(t[1:]) for t in header if t.startswith(b"W"))
    h = next(int(t[1:]) for t in header if t.startswith(b"H"))
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        sys.exit(f"talk_frames: {path} is {w}x{h}; frames up to {MAX_SIDE} px a side are read")
    return w, h


def grey_frames(y4m: Path):
    """The luma plane of every frame (Y4M 4:2:0, as conversation_eval writes it)."""
    w, h = y4m_size(y4m)
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(y4m), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    n = len(raw) // (w * h)
    return np.frombuffer(raw[: n * w * h], np.uint8).reshape(n, h, w)


def crop(frame: np.ndarray, face: dict, rule: tuple[float, float, float]) -> np.ndarray:
    """The app's crop (src/crop.rs) of one detected face, resized to 48x48."""
    scale, dx, dy = rule
    x0, y0, bw, bh = face["box"]  # events: [x, y, width, height]
    kp = face["keypoints"]
    (rx, ry), (lx, ly) = kp["right_eye"], kp["left_eye"]
    ang = math.atan2(ly - ry, lx - rx)  # eye line; the crop turns with it
    cx, cy = x0 + bw / 2 + dx * bw, y0 + bh / 2 + dy * bw
    side = scale * bw
    c, s = math.cos(ang), math.sin(ang)
    # output pixel (u, v) in [0, SIZE) -> source point, for PIL's inverse affine map
    k = side / SIZE
    a, b = c * k, -s * k
    d, e = s * k, c * k
    ox = cx - (a * SIZE / 2 + b * SIZE / 2)
    oy = cy - (d * SIZE / 2 + e * SIZE / 2)
    img = Image.fromarray(frame).transform((SIZE, SIZE), Image.AFFINE, (a, b, ox, d, e, oy), resample=Image.BILINEAR)
    return np.asarray(img)


def part_cut(n_frames: int, head_share: float) -> int:
    """The first frame of a clip's tail: frames before it make its head."""
    return int(round(n_frames * head_share))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=["tune", "report"], default="tune")
    ap.add_argument("--every", type=int, default=2, help="keep every Nth frame")
    ap.add_argument("--max-per-clip", type=int, default=120, help="at most this many faces of one clip, spread over it (one long clip must not outweigh many speakers)")
    ap.add_argument("--emocue", type=Path, default=ROOT / "target/release/emocue")
    ap.add_argument("--model", type=Path, default=ROOT / "models/emotionnet_nano_b.int8.onnx", help="whose crop rule to follow")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/emocue-clips"))
    ap.add_argument("--out", type=Path, default=HERE / ".cache/talk/tune.npz")
    ap.add_argument("--mead", choices=["head", "tail", "all"], help="write M030's acted clips (this part of each) instead of the neutral speakers")
    ap.add_argument("--head-share", type=float, default=0.5, help="with --mead: the share of each clip's frames that makes its head")
    a = ap.parse_args()
    if not a.emocue.exists():
        sys.exit(f"talk_frames: {a.emocue} not found; run `cargo build --release`")
    if a.every < 1:
        sys.exit("talk_frames: --every must be at least 1")
    if not 0.0 < a.head_share < 1.0:
        sys.exit("talk_frames: --head-share must be between 0 and 1")
    splits = json.loads((HERE / "splits/talking.json").read_text())
    rule = crop_rule(a.model)
    names, crops, labels = [], [], []
    for clip in conv.find_clips([data.DATA / "videos"]):
        cid = conv.clip_id(clip)
        label = conv.label_of(clip.stem, "neutral")
        if a.mead:
            if "mead/" not in cid:
                continue
        elif "mead/" in cid or conv.side(cid, splits) != a.split or label != "neutral":
            continue
        y4m = conv.to_y4m(clip, a.cache)
        events = conv.replay(a.emocue, y4m, None)
        frames = grey_frames(y4m)
        kept = 0
        step = max(a.every, -(-len(events) // a.max_per_clip))  # at most max_per_clip faces
        cut = part_cut(len(frames), a.head_share)
        for ev in events:
            i = ev["frame"]
            if i % step or i >= len(frames) or not ev["faces"]:
                continue
            if (a.mead == "head" and i >= cut) or (a.mead == "tail" and i < cut):
                continue
            face = max(ev["faces"], key=lambda f: f["box"][2])
            if not face.get("detected", True):
                continue
            names.append(f"{cid}:{i}")
            crops.append(crop(frames[i], face, rule))
            labels.append(label)
            kept += 1
        print(f"{cid:<32} {kept:5d} faces", file=sys.stderr)
    if not crops:
        sys.exit("talk_frames: no faces (is ../shared/data/videos there?)")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(a.out, names=np.array(names), crops=np.stack(crops), labels=np.array(labels))
    print(f"talk_frames: {len(crops)} faces of {len({n.split(':')[0] for n in names})} clips -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
