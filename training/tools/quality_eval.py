"""Do the captions' thresholds hold on poor faces? (issue 18, point 4: "where the model
is outside what it knows ... low quality ... say not sure").

    cargo build --release
    python training/tools/quality_eval.py [--model M.onnx] [--config SETTINGS.toml]
        [--json docs/results/quality.json] [--faces OUT.npz] [--before OLD.json --markdown]

Each face of four sets is degraded as a camera degrades it (the conditions of
robustness.py: blur, a small face, sensor noise, JPEG, low light, gamma, low contrast),
written as a PNG and read through the app (`emocue classify --crop --one-look --json`,
one view, as live video reads a frame). For each condition and set: coverage (share of
faces given an emotion caption rather than "not sure", as the app decides it: the
wording profile's min_confidence thresholds) and shown precision (share of those captions that are right),
plus the share of faces whose view the app calls poor (`[quality]`, src/quality.rs:
detail under `min_detail` or noise over `max_noise`, the settings' values).

Sets: FER2013Valid and CK+ fold 8 (fitting: the thresholds were fitted there, clean),
FER2013Test and CK+ fold 9 (reporting: nobody fitted anything on them). CK+ is scored
with "calm" wrong, as in suite.py. `--faces` keeps every face's probabilities,
label, detail and noise (NaN where the binary reports none).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tools")]

import data  # noqa: E402
from robustness import CONDITIONS  # noqa: E402
from suite import classify  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SETS = ["fer-valid", "ck-fold8", "fer-test", "ck-fold9"]


def load_sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (images N x 48 x 48 uint8, labels as data.CLASSES indices)."""
    out = {}
    for split, name in (("valid", "fer-valid"), ("test", "fer-test")):
        imgs, votes, _ = data.load_ferplus(split)
        y = data.majority(votes)
        out[name] = (imgs[y >= 0], y[y >= 0])
    ck, lab, sub, _ = data.load_ckplus()
    fold = data.load_folds()
    for k in (8, 9):
        sel = np.array([fold[str(s)] == k for s in sub])
        out[f"ck-fold{k}"] = (ck[sel], lab[sel])
    return out


def read_app(emocue: Path, model: Path | None, config: Path | None, imgs: np.ndarray, tmp: Path) -> list[dict | None]:
    """The app's reading of each crop: probabilities and quality (None if absent)."""
    for f in tmp.glob("*.png"):
        f.unlink()
    files = []
    for i, im in enumerate(imgs):
        f = tmp / f"{i:06d}.png"
        Image.fromarray(im).save(f)
        files.append(f)
    by_name = classify(emocue, model, files, crop=True, config=config)
    return [by_name.get(f.name) for f in files]


def quality_settings(config: Path | None = None) -> dict:
    """`[quality]` as the app reads it: the default settings, overridden by `config`."""
    q = tomllib.loads((ROOT / "config/default.toml").read_text())["quality"]
    if config:
        q.update(tomllib.loads(config.read_text()).get("quality", {}))
    return q


def poor_view(face: dict, q: dict) -> bool:
    """Whether `classify`'s measures of a face's crop cross the `[quality]` limits
    (too little detail or too much noise; src/quality.rs), whether or not the stage is on."""
    m = face.get("quality")
    return bool(m and (m["detail"] < q["min_detail"] or m["noise"] > q["max_noise"]))


def score(faces: list[dict | None], y: np.ndarray, q: dict) -> dict:
    """Top-1, coverage and shown precision; "shown" is the app's own decision (its
    `unsure` flag: the profile's thresholds, and the quality stage's extra), "poor"
    the share of faces whose view is poor by the `[quality]` settings `q`."""
    shown = right = shown_right = poor = 0
    for face, k in zip(faces, y):
        if face is None:
            continue
        poor += poor_view(face, q)
        label = face["label"]
        ok = label == data.CLASSES[k]
        right += ok
        if not face["unsure"] and face["caption"] is not None:
            shown += 1
            shown_right += ok
    n = len(y)
    return {
        "n": n,
        "top1": round(right / n, 4),
        "coverage": round(shown / n, 4),
        "shown_precision": round(shown_right / shown, 4) if shown else None,
        "poor": round(poor / n, 4),
    }


def markdown(res: dict, before: dict | None) -> None:
    """One row per condition: the reporting sets' coverage / shown precision (and an
    earlier run's, then this one's), and the share of poor views."""
    sets = ["fer-test", "ck-fold9"]

    def cell(r: dict) -> str:
        return f"{100 * r['coverage']:.0f} / {100 * (r['shown_precision'] or 0):.1f}"

    head = " | ".join(f"{s}: coverage / shown right" + (" before → now" if before else "") for s in sets)
    print(f"| condition | poor views (FER2013Test) | {head} |")
    print("|---" * (2 + len(sets)) + "|")
    for cond, row in res.items():
        cells = []
        for s in sets:
            now = cell(row[s])
            cells.append(f"{cell(before[cond][s])} → {now}" if before and cond in before else now)
        print(f"| {cond} | {100 * row['fer-test']['poor']:.0f} % | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emocue", type=Path, default=ROOT / "target/release/emocue")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--config", type=Path, default=None, help="settings file (its wording profile decides)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--faces", type=Path, default=None, help="write every face's reading (npz)")
    ap.add_argument("--before", type=Path, default=None, help="a JSON of an earlier run: --markdown shows both")
    ap.add_argument("--markdown", action="store_true", help="print the table for docs/results.md")
    a = ap.parse_args()
    if not a.emocue.exists():
        sys.exit(f"quality_eval: {a.emocue} not found; run `cargo build --release` first")
    q = quality_settings(a.config)
    sets = load_sets()
    res: dict = {}
    keep: dict[str, list] = {"condition": [], "set": [], "label": [], "probs": [], "detail": [], "noise": []}
    with tempfile.TemporaryDirectory() as td:
        for ci, (cond, fn) in enumerate(CONDITIONS.items()):
            res[cond] = {}
            for name in SETS:
                imgs, y = sets[name]
                rng = np.random.default_rng(ci)
                faces = read_app(a.emocue, a.model, a.config, fn(imgs, rng), Path(td))
                res[cond][name] = score(faces, y, q)
                for face, k in zip(faces, y):
                    keep["condition"].append(cond)
                    keep["set"].append(name)
                    keep["label"].append(int(k))
                    keep["probs"].append(face["probs"] if face else {c: 0.0 for c in data.CLASSES})
                    m = (face or {}).get("quality") or {}
                    keep["detail"].append(m.get("detail", np.nan))
                    keep["noise"].append(m.get("noise", np.nan))
            row = " ".join(
                f"{n}: {100 * r['coverage']:.1f}/{100 * (r['shown_precision'] or 0):.1f}" for n, r in res[cond].items()
            )
            print(f"{cond:32s} {row}", flush=True)
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
    if a.markdown:
        markdown(res, json.loads(a.before.read_text()) if a.before else None)
    if a.faces:
        np.savez_compressed(
            a.faces,
            condition=np.array(keep["condition"]),
            set=np.array(keep["set"]),
            label=np.array(keep["label"]),
            probs=np.array([[p[c] for c in data.CLASSES] for p in keep["probs"]], dtype=np.float32),
            detail=np.array(keep["detail"], dtype=np.float32),
            noise=np.array(keep["noise"], dtype=np.float32),
        )


if __name__ == "__main__":
    main()
