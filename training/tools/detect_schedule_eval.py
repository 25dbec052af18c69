"""Detect only when needed (issue 20): does skipping the detector keep the faces and
the captions? Replays real clips through `emocue replay` once with the detector on
every frame (`[detection] every_frames = 1`, the reference) and once per tested
`every_frames`, other settings the defaults, and reports per clip and pooled:

  - face_present: share of frames where a face was classified (detected, or its crop
    carried forward on a frame the detector skipped); the issue's bar is 0.98;
  - detector_share: share of frames the detector ran (a frame without a carried
    face); 1 for the reference;
  - agree: share of frames whose main face shows the same caption state as in the
    reference run (the main face is the track seen in most frames);
  - the caption metrics of tools/conversation_eval.py (changes per minute, false-alarm
    share on neutral speech, acted emotion most shown).

Clips in other formats than Y4M are converted once with ffmpeg into `--cache`
(delete it when done).

    cargo build --release
    python training/tools/detect_schedule_eval.py ../shared/data/videos --every 1 3 5 10 \
        --json docs/results/detect_schedule.json

`--set SECTION.KEY=VALUE` (repeatable) changes a setting in the tested runs only: the
reference stays the defaults with the detector on every frame, so `--every 1 5 --set
smoothing.alternate_mirror=true` measures what that setting changes, with and without
the schedule.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conversation_eval import (  # noqa: E402
    clip_id, find_clips, label_of, pooled, score_clip, timeline, to_y4m)

ROOT = Path(__file__).resolve().parents[2]


def settings_text(every: int, sets: list[str]) -> str:
    """A settings file: `every_frames` and each `section.key=value` of `--set`."""
    sections: dict[str, list[str]] = {"detection": [f"every_frames = {every}"]}
    for s in sets:
        key, _, value = s.partition("=")
        section, _, name = key.strip().partition(".")
        if not (section and name and value.strip()):
            sys.exit(f"detect_schedule_eval: --set {s!r} is not section.key=value")
        sections.setdefault(section, []).append(f"{name} = {value.strip()}")
    return "".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items())


def replay(emocue: Path, clip: Path, every: int, tmp: Path, sets: list[str] | None = None) -> list[dict]:
    cfg = tmp / f"every{every}{'_set' if sets else ''}.toml"
    cfg.write_text(settings_text(every, sets or []))
    r = subprocess.run([str(emocue), "replay", str(clip), "--events", "-", "--no-timing",
                        "--config", str(cfg)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"detect_schedule_eval: emocue replay {clip} failed: {r.stderr.strip()}")
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def schedule_row(events: list[dict], ref_states: list) -> dict:
    n = max(1, len(events))
    classified = sum(1 for e in events if any(f["raw"] is not None for f in e["faces"]))
    carried = sum(1 for e in events if any(f.get("carried") for f in e["faces"]))
    _, states, _ = timeline(events)
    agree = sum(1 for a, b in zip(states, ref_states) if a == b) / max(1, len(ref_states))
    return {"face_present": round(classified / n, 4),
            "detector_share": round(1 - carried / n, 4),
            "agree": round(agree, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", type=Path, help="clips or folders of clips")
    ap.add_argument("--every", type=int, nargs="+", default=[5],
                    help="every_frames values to test against every_frames = 1")
    ap.add_argument("--emocue", type=Path, default=ROOT / "target/release/emocue")
    ap.add_argument("--default-label", default="neutral")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "EMOCUE_CLIP_CACHE", "/tmp/emocue-clips")))
    ap.add_argument("--json", type=Path, help="write per-clip and pooled results here")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="a setting for the tested runs (e.g. smoothing.alternate_mirror=true); "
                         "the reference (every_frames = 1) keeps the defaults, so `--every 1 5 --set X` "
                         "measures what X changes")
    a = ap.parse_args()
    if not a.emocue.exists():
        sys.exit(f"detect_schedule_eval: {a.emocue} not found; run `cargo build --release`")
    # the reference run, then each tested one ("ref" keys the reference when --set
    # makes every_frames = 1 a tested run of its own)
    ref_key = "ref" if a.set else 1
    settings = [ref_key] + [e for e in a.every if a.set or e != 1]
    rows: dict = {e: [] for e in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in find_clips(a.paths):
            y4m = to_y4m(clip, a.cache)
            label = label_of(clip.stem, a.default_label)
            ref_states = None
            for every in settings:
                if every == "ref":
                    events = replay(a.emocue, y4m, 1, Path(tmp))
                else:
                    events = replay(a.emocue, y4m, every, Path(tmp), a.set)
                row = score_clip(clip, label, events)
                if ref_states is None:
                    ref_states = row["states"]
                row.update(schedule_row(events, ref_states))
                row = {k: v for k, v in row.items() if k not in ("states", "times_ms")}
                rows[every].append(row)
                print(f"{clip_id(clip):<40} every {every!s:>3}: face {row['face_present']:.3f} "
                      f"detector {row['detector_share']:.2f} agree {row['agree']:.3f} "
                      f"{row['changes_per_minute']:5.1f} changes/min", flush=True)
    out = {}
    for every, rs in rows.items():
        p = pooled(rs)
        frames = [r["seconds"] for r in rs]
        w = sum(frames) or 1.0
        p.update(
            face_present_min=min(r["face_present"] for r in rs),
            detector_share=round(sum(r["detector_share"] * s for r, s in zip(rs, frames)) / w, 4),
            agree=round(sum(r["agree"] * s for r, s in zip(rs, frames)) / w, 4),
            agree_min=min(r["agree"] for r in rs))
        out["reference" if every == "ref" else f"every_frames_{every}"] = p
    print(json.dumps(out, indent=1))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({
            "command": "python training/tools/detect_schedule_eval.py " + " ".join(sys.argv[1:]),
            "pooled": out,
            "clips": {("reference" if e == "ref" else f"every_frames_{e}"): rs for e, rs in rows.items()},
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
