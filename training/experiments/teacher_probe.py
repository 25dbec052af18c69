"""What each registry teacher reads on emotion while speaking (issue 18, point 2).

    cargo build --release
    python training/teacher_labels.py --teacher <t> --sets ck   # installs each teacher once
    python training/experiments/teacher_probe.py [--teachers face-api,facex,human] [--json FILE]

A teacher can only teach what it reads itself. MEAD actor M030's acted clips are the
suite's worst domain (our network reads his angry, contempt and fear clips as happy), so
before distilling a teacher this probes it on the app's own crops of those clips (every
second frame, framed exactly as the app frames them: talk_frames.py's crop of the
detections `emocue replay` reports) and prints, per clip, each reader's top class over
the clip's mean probabilities and the share of frames whose top class is the acted
emotion. Readers: our shipped network (mirror-averaged, its temperature), each teacher,
and the mean of ours and all the teachers (the ensemble `experiments/ens_cache.py`
writes). M030 is never trained on; this only looks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tools")]
import conversation_eval as conv  # noqa: E402
import data  # noqa: E402
import talk_frames  # noqa: E402
import teacher_labels  # noqa: E402
import transfer_thresholds as tt  # noqa: E402

ACTED = {"angry": "anger", "contempt": "contempt", "disgusted": "disgust", "fear": "fear",
         "happy": "happiness", "neutral": "neutral", "sad": "sadness", "surprised": "surprise"}


def mead_crops(emocue: Path, model: Path, cache: Path, every: int) -> dict[str, np.ndarray]:
    rule = talk_frames.crop_rule(model)
    out = {}
    for clip in conv.find_clips([data.DATA / "videos" / "talking" / "mead"]):
        y4m = conv.to_y4m(clip, cache)
        events = conv.replay(emocue, y4m, None)
        frames = talk_frames.grey_frames(y4m)
        crops = []
        for ev in events:
            i = ev["frame"]
            if i % every or i >= len(frames) or not ev["faces"]:
                continue
            face = max(ev["faces"], key=lambda f: f["box"][2])
            crops.append(talk_frames.crop(frames[i], face, rule))
        if crops:
            out[clip.stem] = np.stack(crops)
    if not out:
        sys.exit("teacher_probe: no MEAD clips with faces under ../shared/data/videos/talking/mead")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", default="face-api,facex,human")
    ap.add_argument("--ours", type=Path, default=ROOT / "models/emotionnet_nano_b.onnx")
    ap.add_argument("--emocue", type=Path, default=ROOT / "target/release/emocue")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/emocue-clips"))
    ap.add_argument("--every", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    teachers = [t for t in a.teachers.split(",") if t]
    for t in teachers:
        if t not in teacher_labels.TEACHER_SPECS:
            sys.exit(f"teacher_probe: unknown teacher {t!r}; teachers: {', '.join(teacher_labels.TEACHER_SPECS)}")
    clips = mead_crops(a.emocue, ROOT / "models/emotionnet_nano_b.int8.onnx", a.cache, a.every)
    result: dict[str, dict] = {}
    for stem, crops in clips.items():
        acted = ACTED[stem.split("_")[2]]
        ours = tt.probs(a.ours, crops).astype(np.float64)
        readers = {"ours": ours}
        for t in teachers:
            raw = teacher_labels.run_teacher(t, crops).astype(np.float64)
            readers[t] = teacher_labels.as_member(ours, raw, teacher_labels.has_classes(t))
        readers["ensemble"] = np.mean(list(readers.values()), axis=0)
        k = data.CLASSES.index(acted)
        result[stem] = {
            "acted": acted,
            "frames": len(crops),
            **{name: {"top": data.CLASSES[int(p.mean(0).argmax())],
                      "acted_mean": round(float(p[:, k].mean()), 3),
                      "acted_top_share": round(float((p.argmax(1) == k).mean()), 3)} for name, p in readers.items()},
        }
    names = ["ours", *teachers, "ensemble"]
    print(f"{'clip (acted)':<14}" + "".join(f"{n:>22}" for n in names))
    for stem, r in result.items():
        cells = "".join(f"{r[n]['top'][:9]:>12} {100 * r[n]['acted_top_share']:5.0f} %  " for n in names)
        print(f"{r['acted'][:13]:<14}{cells}")
    right = {n: sum(r[n]["top"] == r["acted"] for r in result.values()) for n in names}
    print("clips whose mean reading is the acted emotion: " + ", ".join(f"{n} {v}/{len(result)}" for n, v in right.items()))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"command": "python training/experiments/teacher_probe.py " + " ".join(sys.argv[1:]),
                                      "clips": result, "right": right}, indent=1) + "\n")


if __name__ == "__main__":
    main()
