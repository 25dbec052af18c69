"""The cross-domain validation suite and its selection rule (issue 18, point 1).

    cargo build --release
    python training/tools/suite.py [MODEL.onnx ...] [--ck-folds 8,9] [--json OUT] [--no-video]

Every candidate is scored through the app itself (`emocue classify`, `emocue replay`),
as a wearer would meet it, on domains that differ in people, camera and task:

  fer-valid      FER2013Valid crops (in the wild, FER+ majority label, 8 classes)
  ck-heldout     CK+ crops of the subject folds the candidate never trained on (posed,
                 lab camera; 7 classes, a "calm" answer is wrong)
  ck-frames      the same faces placed in 640x480 frames (chain_eval.frame): detector,
                 crop and classifier together
  talk-neutral   neutral speakers, report half of splits/talking.json (GRID, LRS2, the
                 webcam clips), replayed: captions other than calm or happy are wrong
  mead-m030      MEAD actor M030 speaking each of 8 emotions, replayed

A replayed domain whose clips a file was trained on (its `trained_on_clips` metadata,
export.py) is shown but marked and left out of the worst domain: since session 28 the
shipped network has learned M030's clips (issue 19, point 3), and a candidate trained on
them is judged on M030 by the part of each clip it never saw
(`experiments/m030_timesplit.py`).

Faces are classified the way live video sees them (`--one-look`: one view a frame). For
each domain: top-1, macro recall (mean of per-class recall), coverage (share of faces,
or of captioned time, where an emotion caption is shown rather than "not sure", with
the wording profile's `min_confidence` thresholds) and shown precision (share of shown
captions that are right). For the clips, recall is the acted emotion's share of emotion
captions (mead) and precision is 1 - the false-alarm share (talk-neutral).

Selection rule: a candidate's score is its WORST domain's min(macro recall, shown
precision); the shipped model is replaced only by a candidate with a higher score (and
the issue's bars: CK+ 10-fold, FER2013Test, size, int8 agreement). FER2013Valid alone
never decides. With no MODEL the shipped classifier is scored.

`--refit` scores each candidate with thresholds fitted for it by the procedure that fitted
the shipped ones (transfer_thresholds.py), as it would ship: without it every candidate
is judged by the shipped network's thresholds, which penalises one calibrated otherwise.

`--ck-folds` must name folds the candidate did not train on (training/splits/
ckplus_10fold.csv; the shipped model trained on folds 0-7, see models/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]  # training/ (the core modules) and training/tools/, from any working directory

import data

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import chain_eval  # noqa: E402
from transfer_thresholds import profile_thresholds  # noqa: E402
import conversation_eval as conv  # noqa: E402

DEFAULT_PROFILE = (ROOT / "config/labels/en.toml").resolve()
DOMAINS = ["fer-valid", "ck-heldout", "ck-frames", "talk-neutral", "mead-m030"]


def classify(emocue: Path, model: Path | None, files: list[Path], crop: bool, config: Path | None = None) -> dict[str, dict]:
    """`emocue classify --one-look --json` on files: file name -> first (largest) face."""
    cmd = [str(emocue), "classify", "--json", "--one-look"] + (["--crop"] if crop else [])
    if config:
        cmd += ["--config", str(config.resolve())]
    if model:
        cmd += ["--model", str(model.resolve())]
    out: dict[str, dict] = {}
    for i in range(0, len(files), 2000):  # bounded command lines
        run = subprocess.run(cmd + [str(f) for f in files[i : i + 2000]], capture_output=True, text=True, cwd=ROOT)
        if run.returncode != 0:
            sys.exit(f"suite: emocue classify failed: {run.stderr.strip()[-2000:]}")
        for line in run.stdout.splitlines():
            r = json.loads(line)
            out[Path(r["file"]).name] = r["faces"][0] if r.get("faces") else None
    return out


def score_faces(results: dict[str, dict | None], truth: dict[str, str]) -> dict:
    """Top-1, macro recall, coverage and shown precision of per-face results; a face
    not found counts as wrong and not shown. "Shown" is the app's own decision
    (`classify`'s `unsure` and `caption`): the wording profile's thresholds, a hidden
    emotion, the `[quality]` stage's ask on a poor view."""
    right, shown, shown_right = 0, 0, 0
    per_class: dict[str, list[int]] = {}
    for name, t in truth.items():
        face = results.get(name)
        label = face["label"] if face else None
        ok = label == t
        right += ok
        per_class.setdefault(t, []).append(ok)
        if face and not face["unsure"] and face["caption"] is not None:
            shown += 1
            shown_right += ok
    n = len(truth)
    return {
        "n": n,
        "top1": round(right / n, 4),
        "macro_recall": round(float(np.mean([np.mean(v) for v in per_class.values()])), 4),
        "coverage": round(shown / n, 4),
        "shown_precision": round(shown_right / shown, 4) if shown else None,
    }


def fer_valid(a, model, cfg) -> dict:
    folder = data.require(data.DATA / "ferplus" / "FER2013Valid")
    _, votes, names = data.load_ferplus("valid")
    y = data.majority(votes)
    truth = {n: data.CLASSES[k] for n, k in zip(names, y) if k >= 0}
    return score_faces(classify(a.emocue, model, [folder / n for n in truth], crop=True, config=cfg), truth)


def ck_faces(folds: set[int]):
    images, labels, subjects, paths = data.load_ckplus()
    fold_of = data.load_folds()
    keep = [i for i, s in enumerate(subjects) if fold_of.get(str(s)) in folds]
    if not keep:
        sys.exit(f"suite: no CK+ subject in folds {sorted(folds)}")
    return images, labels, paths, keep


def ck_heldout(a, model, cfg, folds) -> dict:
    _, labels, paths, keep = ck_faces(folds)
    root = data.DATA / "ckplus48"
    files = [root / paths[i] for i in keep]
    truth = {Path(paths[i]).name: data.CLASSES[labels[i]] for i in keep}
    return score_faces(classify(a.emocue, model, files, crop=True, config=cfg), truth)


def ck_frames(a, model, cfg, folds) -> dict:
    images, labels, _, keep = ck_faces(folds)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        truth, files = {}, []
        for i in keep:
            name = f"ck{i:04d}.jpg"
            chain_eval.frame(images[i], rng).save(Path(tmp) / name, quality=90)
            truth[name] = data.CLASSES[labels[i]]
            files.append(Path(tmp) / name)
        return score_faces(classify(a.emocue, model, files, crop=False, config=cfg), truth)


def settings_for(model: Path | None, tmp: Path, profile: Path | None = None) -> Path | None:
    """A settings file that selects the candidate classifier and, when given, another
    wording profile (its thresholds); defaults otherwise."""
    if model is None and profile is None:
        return None
    out = tmp / "settings.toml"
    out.write_text(conv.settings_text(model, profile))
    return out


def clips(a, model, wanted, profile: Path) -> tuple[dict, dict]:
    """talk-neutral and mead-m030 from `emocue replay` of the talking clips."""
    splits = json.loads((ROOT / "training/splits/talking.json").read_text())
    videos = data.DATA / "videos"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = settings_for(model, Path(tmp), None if profile.resolve() == DEFAULT_PROFILE else profile)
        for clip in conv.find_clips([videos]):
            cid = conv.clip_id(clip)
            is_mead = "mead/" in cid
            if not is_mead and conv.side(cid, splits) != "report":
                continue
            label = conv.label_of(clip.stem, "neutral")
            events = conv.replay(a.emocue, conv.to_y4m(clip, a.cache), cfg)
            row = conv.score_clip(clip, label, events)
            row["mead"] = is_mead
            rows.append(row)
            if not a.quiet:
                print(f"  {cid:<40} {label:<10} most {row['most_shown']}", file=sys.stderr)
    out = {}
    neutral = [r for r in rows if not r["mead"]]
    if neutral and "talk-neutral" in wanted:
        cap = [sum(v for k, v in r["shown_ms"].items() if k != "none") for r in neutral]
        emo = [sum(v for k, v in r["shown_ms"].items() if k not in ("none", "unsure")) for r in neutral]
        alarm = sum(r["false_alarm_share"] * c for r, c in zip(neutral, cap))
        out["talk-neutral"] = {
            "n": len(neutral),
            "top1": None,
            "macro_recall": None,
            "coverage": round(sum(emo) / sum(cap), 4) if sum(cap) else 0.0,
            "shown_precision": round(1 - alarm / sum(cap), 4) if sum(cap) else None,
            "face_present_min": min(r["face_present"] for r in neutral),
        }
    mead = [r for r in rows if r["mead"]]
    if mead and "mead-m030" in wanted:
        emo = [sum(v for k, v in r["shown_ms"].items() if k not in ("none", "unsure")) for r in mead]
        cap = [sum(v for k, v in r["shown_ms"].items() if k != "none") for r in mead]
        right = [r["shown_ms"].get(r["label"], 0) for r in mead]
        out["mead-m030"] = {
            "n": len(mead),
            "top1": round(sum(r["most_shown_emotion"] == r["label"] for r in mead) / len(mead), 4),
            "macro_recall": round(float(np.mean([r["acted_share"] or 0.0 for r in mead])), 4),
            "coverage": round(sum(emo) / sum(cap), 4) if sum(cap) else 0.0,
            "shown_precision": round(sum(right) / sum(emo), 4) if sum(emo) else None,
            "most_shown_right": f"{sum(r['most_shown'] == r['label'] for r in mead)}/{len(mead)}",
        }
    return out, {r["clip"]: r["most_shown"] for r in rows}


def refit(a, model: Path | None, out: Path) -> Path:
    """The wording profile with thresholds fitted for this candidate exactly as the
    shipped ones were fitted for the shipped network (transfer_thresholds.py: FER2013Valid,
    CK+ fold 8 and the tuning speakers; never M030 or the report half), so that a
    candidate calibrated differently is not judged by another network's thresholds."""
    cmd = [sys.executable, str(HERE / "transfer_thresholds.py"), str((model or ROOT / "models/emotionnet_nano_b.int8.onnx").resolve()),
           "--profile", str(a.profile.resolve()), "--write", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if run.returncode != 0:
        sys.exit(f"suite: fitting thresholds for {model} failed: {run.stderr.strip()[-2000:]}")
    return out


def trained_clips(model: Path | None) -> set[str]:
    """Clips whose frames the file was trained on (`trained_on_clips`, written by export.py)."""
    path = model or ROOT / "models/emotionnet_nano_b.int8.onnx"
    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return {c for c in meta.get("trained_on_clips", "").split(",") if c}


def mark_trained(domains: dict, most_shown: dict[str, str], trained: set[str]) -> None:
    """A replayed domain whose clips the file trained on measures fit, not transfer: it is
    kept in the table, marked, and left out of the worst domain."""
    for d, is_mead in (("talk-neutral", False), ("mead-m030", True)):
        ids = [c for c in most_shown if c.startswith("mead/") == is_mead]
        if d in domains and trained & set(ids):
            domains[d]["trained_on"] = sorted(trained & set(ids))


def worst(domains: dict) -> tuple[str, float]:
    """The selection score: the lowest min(macro recall, shown precision) of any domain
    not trained on."""
    scores = {}
    for d, r in domains.items():
        if r.get("trained_on"):
            continue
        vals = [v for v in (r.get("macro_recall"), r.get("shown_precision")) if v is not None]
        if vals:
            scores[d] = min(vals)
    d = min(scores, key=scores.get)
    return d, scores[d]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path, help="candidate classifier ONNX files (default: the shipped one)")
    ap.add_argument("--emocue", type=Path, default=ROOT / "target/release/emocue")
    ap.add_argument("--profile", type=Path, default=ROOT / "config/labels/en.toml", help="wording profile whose thresholds the crops and the replays use")
    ap.add_argument("--ck-folds", default="8,9", help="CK+ folds the candidates never trained on")
    ap.add_argument("--domains", default=",".join(DOMAINS))
    ap.add_argument("--no-video", action="store_true", help="leave out the replayed clips (a minute instead of several)")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("EMOCUE_CLIP_CACHE", "/tmp/emocue-clips")))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--refit", action="store_true", help="score each candidate with thresholds fitted for it (transfer_thresholds.py) instead of --profile's")
    a = ap.parse_args()
    if not a.emocue.exists():
        sys.exit(f"suite: {a.emocue} not found; run `cargo build --release` or pass --emocue PATH")
    wanted = [d for d in a.domains.split(",") if d]
    if unknown := set(wanted) - set(DOMAINS):
        sys.exit(f"suite: unknown domains {sorted(unknown)}; domains: {', '.join(DOMAINS)}")
    if a.no_video:
        wanted = [d for d in wanted if d not in ("talk-neutral", "mead-m030")]
    folds = {int(f) for f in a.ck_folds.split(",") if f}
    results = {}
    profile_dir = tempfile.TemporaryDirectory()
    # per candidate: the wording profile whose thresholds its crops and replays are
    # captioned with (--profile's, or fitted for it with --refit)
    for i, model in enumerate(a.models or [None]):
        name = str(model) if model else "shipped (config/default.toml)"
        print(f"{name}:", file=sys.stderr)
        profile = refit(a, model, Path(profile_dir.name) / f"profile{i}.toml") if a.refit else a.profile
        sub = Path(profile_dir.name) / f"crops{i}"
        sub.mkdir()
        cfg = settings_for(None, sub, None if profile.resolve() == DEFAULT_PROFILE else profile)
        doms = {}
        if "fer-valid" in wanted:
            doms["fer-valid"] = fer_valid(a, model, cfg)
        if "ck-heldout" in wanted:
            doms["ck-heldout"] = ck_heldout(a, model, cfg, folds)
        if "ck-frames" in wanted:
            doms["ck-frames"] = ck_frames(a, model, cfg, folds)
        most = {}
        if {"talk-neutral", "mead-m030"} & set(wanted):
            extra, most = clips(a, model, wanted, profile)
            doms.update(extra)
            mark_trained(doms, most, trained_clips(model))
        w = worst(doms)
        results[name] = {"domains": doms, "worst_domain": w[0], "score": round(w[1], 4), "most_shown": most}
        if a.refit:
            results[name]["thresholds"] = {c: float(v) for c, v in zip(data.CLASSES, profile_thresholds(profile))}

    def pct(v):
        return "  -  " if v is None else f"{100 * v:5.1f}"

    print(f"{'candidate / domain':<34} {'n':>5} {'top1':>6} {'recall':>6} {'cover':>6} {'prec':>6}")
    for name, r in results.items():
        print(name)
        for d, s in r["domains"].items():
            print(f"  {d:<32} {s['n']:>5} {pct(s['top1']):>6} {pct(s['macro_recall']):>6} "
                  f"{pct(s['coverage']):>6} {pct(s['shown_precision']):>6}"
                  + ("  trained on: fit, not transfer" if s.get("trained_on") else ""))
        print(f"  worst domain: {r['worst_domain']}, score {100 * r['score']:.1f}")
    best = max(results, key=lambda k: results[k]["score"])
    print(f"selected by the worst domain: {best}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({
            "command": "python training/tools/suite.py " + " ".join(sys.argv[1:]),
            "profile": str(a.profile), "refit": a.refit, "ck_folds": sorted(folds), "results": results,
            "selected": best}, indent=1) + "\n")


if __name__ == "__main__":
    main()
