"""MEAD M030 held out in time: replay one part of each of his eight clips through the app
(issue 19, point 3).

M030 is the only actor here who speaks with acted emotions, so a network trained on his
speech (`talk_frames.py --mead head`) cannot be tested on another actor. What can be
tested is the part of each clip it never saw: the clips are cut at `--head-share` of
their frames, the other part is written as a clip of its own (the app replays it from its
first frame, so nothing it saw in training warms up the smoothing), and each candidate
replays it with the shipped settings, only the classifier changed. Same person, same
session, later seconds: this says whether a network can learn emotion while speaking
without losing the other domains (`tools/suite.py`), not that it carries to other actors.

    cargo build --release
    python training/experiments/m030_timesplit.py --part tail \\
        shipped=models/emotionnet_nano_b.int8.onnx head=/tmp/s28x/s28_head.int8.onnx \\
        --json docs/results/m030_timesplit.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]  # training/
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(HERE / "tools")]
import conversation_eval as conv  # noqa: E402
import data  # noqa: E402
import evaluate  # noqa: E402
import numpy as np  # noqa: E402
from talk_frames import grey_frames, part_cut  # noqa: E402


def part_clip(clip: Path, part: str, share: float, cache: Path) -> Path:
    """`clip`'s head or tail as a Y4M clip of its own (written once into `cache`)."""
    full = conv.to_y4m(clip, cache)
    cut = part_cut(len(grey_frames(full)), share)
    out = cache / f"{part}{share:g}" / full.name
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        keep = f"lt(n\\,{cut})" if part == "head" else f"gte(n\\,{cut})"
        tmp = out.with_suffix(".part")
        r = subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(full), "-vf", f"select={keep}",
                            "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(tmp)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"m030_timesplit: ffmpeg could not cut {full}: {r.stderr.strip()}")
        tmp.rename(out)
    return out


def frame_scores(model: Path, crops: Path) -> dict:
    """Each crop alone (the network and its mirror view, no smoothing): the share read as
    the clip's emotion, and per clip whether the mean probability's top class is it."""
    npz = np.load(crops)
    if "labels" not in npz:
        sys.exit(f"m030_timesplit: {crops} has no labels; write it with talk_frames.py --mead")
    sess, classes = evaluate.session(str(model))
    lg = evaluate.logits(sess, npz["crops"])
    prob = np.exp(lg - lg.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    labels, clips = npz["labels"], np.array([n.split(":")[0] for n in npz["names"].tolist()])
    per = {}
    for c in sorted(set(clips.tolist())):
        m = clips == c
        per[c] = {"label": str(labels[m][0]), "frames": int(m.sum()),
                  "right": round(float((np.array(classes)[prob[m].argmax(1)] == labels[m]).mean()), 4),
                  "mean_reading": classes[int(prob[m].mean(0).argmax())]}
    return {"top1": round(float((np.array(classes)[prob.argmax(1)] == labels).mean()), 4),
            "mean_reading_right": sum(v["mean_reading"] == v["label"] for v in per.values()),
            "clips": per}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="NAME=FILE.onnx, each scored on the same parts")
    ap.add_argument("--part", choices=["head", "tail"], required=True, help="the part to replay (the one not trained on)")
    ap.add_argument("--head-share", type=float, default=0.5)
    ap.add_argument("--emocue", type=Path, default=ROOT / "target/release/emocue")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("EMOCUE_CLIP_CACHE", "/tmp/emocue-clips")))
    ap.add_argument("--crops", type=Path, help="the same part's crops (talk_frames.py --mead PART): also score each frame alone, no smoothing")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if not a.emocue.exists():
        sys.exit(f"m030_timesplit: {a.emocue} not found; run `cargo build --release`")
    models = {}
    for m in a.models:
        name, sep, path = m.partition("=")
        if not sep or not Path(path).is_file():
            sys.exit(f"m030_timesplit: `{m}` is not NAME=FILE.onnx of an existing file")
        models[name] = Path(path)
    clips = [c for c in conv.find_clips([data.DATA / "videos/talking/mead"]) if "M030" in c.stem]
    if not clips:
        sys.exit(f"m030_timesplit: no M030 clips under {data.DATA / 'videos/talking/mead'}")
    parts = [(c, part_clip(c, a.part, a.head_share, a.cache)) for c in clips]
    out = {"command": "python training/experiments/m030_timesplit.py " + " ".join(sys.argv[1:]),
           "part": a.part, "head_share": a.head_share, "models": {}}
    for name, path in models.items():
        settings = a.cache / f"settings-{os.getpid()}-{name}.toml"
        settings.write_text(conv.settings_text(path))
        rows = []
        for clip, part in parts:
            row = conv.score_clip(part, conv.label_of(clip.stem, None), conv.replay(a.emocue, part, settings))
            rows.append({k: v for k, v in row.items() if k not in ("states", "times_ms")})
        right = sum(r["most_shown"] == r["label"] for r in rows)
        out["models"][name] = {"file": str(path), "most_shown_right": right, "clips": rows}
        print(f"{name:<12} most-shown right {right}/{len(rows)}: "
              + ", ".join(f"{r['label']}->{r['most_shown']}" for r in rows))
        if a.crops:
            out["models"][name]["frames"] = frames = frame_scores(path, a.crops)
            print(f"{'':<12} frames right {frames['top1']:.1%}; mean reading right on "
                  f"{frames['mean_reading_right']}/{len(frames['clips'])} clips")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
