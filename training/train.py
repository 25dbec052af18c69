"""Train EmotionNet Nano-A/B.

A shipped model's lineage from its recipe (recipe.py, recipes/*.toml):
    python train.py --config recipes/deployed.toml [--stage NAME] [--dry-run] [--cpu]

FER+ (the deployed model; selected on FER2013Valid, optionally with CK+ subject folds):
    python training/train.py ferplus --arch b --epochs 20 --out runs/fer_b
    python training/train.py ferplus --arch b --epochs 6 --init runs/fer_b/best.pt \
        --ck-folds 0-7 --lr 3e-4 --out runs/deploy_b
CK+ 10-fold, paper protocol (7 classes, held-out predictions saved per fold):
    python training/train.py ckfold --arch b --fold 3 --epochs 200 --out runs/ck_b_scratch
Smoke test (CI): --limit 512 --epochs 1
GPU (experiments/gpu_run.sh): --device cuda, --time-budget S (a cosine schedule over wall-clock
time instead of epochs), a teacher (--arch teacher) and distillation (--teacher PATH[,PATH...]: the teachers' mean; --kd-fer-only).

Every run writes OUT/log.jsonl (one line per epoch), OUT/best.pt and, for CK+ folds,
OUT/fold{k}_pred.npz with the held-out probabilities.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import augment
import data
import recipe
from emonet import PLANS, EmotionNetNano, Teacher, count_macs, count_params

CK7 = [data.CLASSES.index(c) for c in data.CK_CLASSES]  # 8-way index of each CK+ class


def parse_folds(s: str | None) -> list[int]:
    if not s:
        return []
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def paper_lr(epoch: int, epochs: int, base: float) -> float:
    """The paper's steps at 81/121/161/181 of 200 epochs, scaled to any epoch count."""
    f = epoch / epochs
    for at, scale in ((181, 0.5e-3), (161, 1e-3), (121, 1e-2), (81, 1e-1)):
        if f >= (at - 1) / 200:
            return base * scale
    return base


def cosine_lr(epoch: float, epochs: int, base: float, warm: float = 0.5) -> float:
    if epoch < warm:
        return base * (epoch + 0.05) / warm
    return base * 0.5 * (1 + math.cos(math.pi * (epoch - warm) / max(epochs - warm, 1e-6)))


def to_tensor(imgs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(imgs).float().unsqueeze(1) / 255.0


@torch.no_grad()
def predict(model: torch.nn.Module, imgs: np.ndarray, bs: int = 512, device: str = "cpu") -> np.ndarray:
    model.eval()
    outs = []
    for i in range(0, len(imgs), bs):
        x = augment.normalise(to_tensor(imgs[i : i + bs]).to(device))
        outs.append(model(x).float().cpu())
    return torch.cat(outs).numpy()


def build(arch: str, n_classes: int, width: int = 48, upsample: int = 0) -> torch.nn.Module:
    if arch == "teacher":
        return Teacher(n_classes, width)
    return EmotionNetNano(PLANS[arch], n_classes, upsample=upsample)


def load_checkpoint(path) -> tuple[torch.nn.Module, dict]:
    """The network a `train.py` checkpoint holds (any arch, teacher included), in eval mode,
    with the checkpoint dict for its metadata."""
    ck = torch.load(path, map_location="cpu")
    m = build(ck["arch"], ck.get("n_classes", 8), ck.get("width", 48), ck.get("upsample", 0))
    m.load_state_dict(ck["state_dict"])
    return m.eval(), ck


def load_init(model: EmotionNetNano, path: str, n_classes: int) -> None:
    """Loads a checkpoint; an 8-way FER+ head is cut to the 7 CK+ classes if needed."""
    sd = torch.load(path, map_location="cpu")["state_dict"]
    if sd["fc.weight"].shape[0] != n_classes:
        assert n_classes == 7 and sd["fc.weight"].shape[0] == 8
        sd["fc.weight"] = sd["fc.weight"][CK7]
        sd["fc.bias"] = sd["fc.bias"][CK7]
    model.load_state_dict(sd)


def _teacher_cache(name: str, set_name: str, t: float) -> tuple[list[str], np.ndarray]:
    """Names and softened probabilities of a cached teacher set (teacher_labels.py)."""
    import teacher_labels

    path = teacher_labels.CACHE / name / f"{set_name}.npz"
    if not path.exists():
        raise SystemExit(f"no cached {name} labels for {set_name}: run python training/teacher_labels.py --teacher {name} --sets {set_name}")
    z = np.load(path)
    p = np.clip(z["probs"].astype(np.float64), 0, None) ** (1.0 / t)
    p *= z["has"][None, :]
    return list(z["names"]), (p / p.sum(1, keepdims=True)).astype(np.float32)


def cached_teacher(name: str, set_name: str, files: list[str], t: float) -> np.ndarray:
    """The teacher's softened labels for these image file names, in their order."""
    names, p = _teacher_cache(name, set_name, t)
    row = {Path(n).name: i for i, n in enumerate(names)}
    missing = [f for f in files if f not in row]
    if missing:
        raise SystemExit(f"{len(missing)} faces (e.g. {missing[0]}) have no cached {name} label; rerun teacher_labels.py --force")
    return p[[row[f] for f in files]]


def blend_teacher(votes: np.ndarray, teacher: np.ndarray, alpha: float) -> np.ndarray:
    """(1 - alpha) x human votes + alpha x teacher, where the teacher's distribution only
    covers the votes' mass on the classes it predicts (a class it lacks, e.g. contempt
    for face-api, keeps the humans' share)."""
    lacks = teacher.sum(0) == 0
    own = votes[:, lacks].sum(1, keepdims=True)
    t = teacher * (1 - own)
    t[:, lacks] = votes[:, lacks]
    return ((1 - alpha) * votes + alpha * t).astype(np.float32)


def teacher_faces(name: str, set_name: str, t: float, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The faces of a cached teacher set as 48x48 crops, with the teacher's labels."""
    names, p = _teacher_cache(name, set_name, t)
    if limit:
        names, p = names[:limit], p[:limit]
    return data.load_faces(names), p


def talk_faces(path: str, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Crops of people mid-sentence (talk_frames.py) and their class indices: the file's
    `labels` (MEAD's acted emotions), or neutral for files written before labels."""
    try:
        npz = np.load(path)
    except (OSError, ValueError) as e:
        raise SystemExit(f"--talk-faces: cannot read {path} ({e}); write it with training/talk_frames.py")
    crops = npz["crops"]
    if crops.ndim != 3 or crops.shape[1:] != shape:
        raise SystemExit(f"--talk-faces: {path} holds {crops.shape[1:]} crops, not {shape}")
    names = npz["labels"] if "labels" in npz else np.full(len(crops), "neutral")
    unknown = sorted(set(names.tolist()) - set(data.CLASSES))
    if unknown or len(names) != len(crops):
        raise SystemExit(f"--talk-faces: {path} has labels {unknown} outside {data.CLASSES} or not one per crop")
    return crops, np.array([data.CLASSES.index(n) for n in names.tolist()], int)


def mask_some(x: torch.Tensor, p: float, g: torch.Generator) -> torch.Tensor:
    """A share `p` of the batch with the mouth hidden, the mask's top row jittered by ±4 %."""
    n = len(x)
    sel = torch.rand(n, generator=g, device=x.device) < p
    if not bool(sel.any()):
        return x
    row = augment.MASK_ROW + 0.08 * (torch.rand(n, generator=g, device=x.device) - 0.5)
    return torch.where(sel[:, None, None, None], augment.mouth_mask(x, row), x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=["ferplus", "ckfold"])
    ap.add_argument("--arch", choices=sorted(PLANS) + ["teacher"], default="b")
    ap.add_argument("--width", type=int, default=48, help="teacher width")
    ap.add_argument("--upsample", type=int, default=0, help="upsample the 48x48 input to this size inside the network (0: off)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--time-budget", type=float, default=0, help="seconds; cosine schedule over wall-clock time, --epochs is the cap")
    ap.add_argument("--teacher", default=None, help="distil from this checkpoint (comma-separated: the mean of their softened outputs)")
    ap.add_argument("--kd-fer-only", action="store_true", help="distil on FER+ images only; CK+ images keep their own labels (for teachers that never saw CK+)")
    ap.add_argument("--kd-alpha", type=float, default=0.7, help="weight of the teacher's targets")
    ap.add_argument("--kd-t", type=float, default=2.0, help="distillation temperature")
    ap.add_argument("--teacher-cache", default=None, help="distil from a registry teacher's cached soft labels (training/teacher_labels.py), e.g. face-api: FER+ targets become (1 - kd-alpha) x votes + kd-alpha x teacher (the votes keep the classes the teacher lacks)")
    ap.add_argument("--teacher-t", type=float, default=2.0, help="softening of cached teacher labels: p^(1/T), renormalised")
    ap.add_argument("--extra-faces", default="", help="more faces labelled by the cached teacher alone (comma list of teacher_labels.py sets, e.g. lfw)")
    ap.add_argument("--kd-clean", action="store_true", help="teachers see each view before its camera artefacts, so the student learns to read a degraded face as they read the clean one")
    ap.add_argument("--ema", type=float, default=0.0, help="evaluate and keep an exponential moving average of the weights (e.g. 0.999)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--ck-folds", default="", help="CK+ folds mixed into FER+ training")
    ap.add_argument("--ck-repeat", type=int, default=4, help="CK+ oversampling per epoch")
    ap.add_argument("--init", default=None)
    ap.add_argument("--limit", type=int, default=None, help="smoke test: first N images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-camera-aug", action="store_true")
    ap.add_argument("--no-balance", action="store_true")
    ap.add_argument("--hard-labels", action="store_true", help="FER+ majority vote instead of the vote distribution")
    ap.add_argument("--min-agreement", type=float, default=0.0, help="train only on FER+ faces whose top emotion has at least this share of the emotion votes (prototypical faces)")
    ap.add_argument("--balance-power", type=float, default=0.25, help="class weight = (1/freq)^power")
    ap.add_argument("--max-weight", type=float, default=3.0, help="cap on a class weight (relative to the mean sample weight)")
    ap.add_argument("--select", choices=["acc", "mean_recall"], default="acc", help="FER2013Valid score that picks best.pt")
    ap.add_argument("--rot", type=float, default=10.0, help="rotation jitter, degrees")
    ap.add_argument("--shift", type=float, default=0.06, help="shift jitter, fraction of the crop")
    ap.add_argument("--zoom", type=float, default=1.12, help="zoom jitter factor")
    ap.add_argument("--cam-p", type=float, default=0.15, help="probability of each camera artefact")
    ap.add_argument("--mouth-swap", type=float, default=0.0, help="share of faces given another face's mouth (augment.mouth_swap), so speech and teeth do not decide the emotion")
    ap.add_argument("--mouth-beta", type=float, default=0.25, help="the donor's share of a mouth-swapped face's target")
    ap.add_argument("--mouth-mask", type=float, default=0.0, help="share of faces shown with the lower face hidden (augment.mouth_mask), labels kept: the app masks a talking face's mouth")
    ap.add_argument("--erase", type=float, default=0.0, help="share of faces given one random rectangle of noise (augment.erase, 2-20 %% of the crop); teachers see the face unerased")
    ap.add_argument("--mixstyle", type=float, default=0.0, help="probability per batch of mixing feature-map styles between faces after the stem and the first mixer (augment.add_mixstyle); 0: off")
    ap.add_argument("--talk-faces", default=None, help="faces of people mid-sentence (training/talk_frames.py; several files separated by commas), each with its label (neutral for the neutral speakers)")
    ap.add_argument("--talk-repeat", type=int, default=2, help="oversampling of --talk-faces per epoch")
    ap.add_argument("--out", required=True)
    if recipe.run(ap):  # --config recipes/NAME.toml: the stages of a shipped model's lineage (recipe.py)
        return
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    ck_imgs, ck_lab, ck_sub, _ = data.load_ckplus()
    folds = data.load_folds()
    ck_fold = np.array([folds[s] for s in ck_sub])

    dropped = {}  # --min-agreement: share of each class's FER+ faces left out
    if a.task == "ferplus":
        n_classes = 8
        imgs, votes, _ = data.load_ferplus("train", a.limit)
        keep = data.majority(votes) >= 0
        if a.min_agreement:
            clear = data.soft_labels(votes).max(1) >= a.min_agreement
            maj = data.majority(votes)
            # what the filter costs each class, in meta.json: share of its faces dropped
            dropped = {
                c: round(float(1 - clear[keep & (maj == k)].mean()), 3)
                for k, c in enumerate(data.CLASSES)
                if (keep & (maj == k)).any()
            }
            dropped["all"] = round(float(1 - clear[keep].mean()), 3)
            keep &= clear
        imgs, soft = imgs[keep], data.soft_labels(votes[keep])
        if a.hard_labels:
            soft = np.eye(8, dtype=np.float32)[data.majority(votes)[keep]]
        if a.teacher_cache:
            fer_names = [n for n, k in zip(data.load_ferplus("train", a.limit)[2], keep) if k]
            soft = blend_teacher(soft, cached_teacher(a.teacher_cache, "fer-train", fer_names, a.teacher_t), a.kd_alpha)
        ck_sel = np.isin(ck_fold, parse_folds(a.ck_folds))
        if ck_sel.any():
            ci = np.repeat(ck_imgs[ck_sel], a.ck_repeat, 0)
            cl = np.eye(8, dtype=np.float32)[np.repeat(ck_lab[ck_sel], a.ck_repeat)]
            imgs, soft = np.concatenate([imgs, ci]), np.concatenate([soft, cl])
        is_fer = np.arange(len(imgs)) < keep.sum()
        for extra in [e for e in a.extra_faces.split(",") if e]:
            if not a.teacher_cache:
                raise SystemExit("--extra-faces needs --teacher-cache: those faces are labelled by the teacher")
            e_imgs, e_soft = teacher_faces(a.teacher_cache, extra, a.teacher_t, a.limit)
            imgs, soft = np.concatenate([imgs, e_imgs]), np.concatenate([soft, e_soft])
            is_fer = np.concatenate([is_fer, np.zeros(len(e_imgs), bool)])
        for talk in [t for t in (a.talk_faces or "").split(",") if t]:
            t_imgs, t_lab = talk_faces(talk, imgs.shape[1:])
            t_imgs, t_lab = np.repeat(t_imgs, a.talk_repeat, 0), np.repeat(t_lab, a.talk_repeat)
            imgs, soft = np.concatenate([imgs, t_imgs]), np.concatenate([soft, np.eye(8, dtype=np.float32)[t_lab]])
            is_fer = np.concatenate([is_fer, np.zeros(len(t_imgs), bool)])
        v_imgs, v_votes, _ = data.load_ferplus("valid", a.limit)
        vkeep = data.majority(v_votes) >= 0
        v_imgs, v_lab = v_imgs[vkeep], data.majority(v_votes)[vkeep]
    else:
        n_classes = 7
        tr = ck_fold != a.fold
        imgs = ck_imgs[tr]
        soft = np.eye(7, dtype=np.float32)[[CK7.index(l) for l in ck_lab[tr]]]
        v_imgs = ck_imgs[~tr]
        v_lab = np.array([CK7.index(l) for l in ck_lab[~tr]])
        if a.limit:
            imgs, soft = imgs[: a.limit], soft[: a.limit]
        is_fer = np.zeros(len(imgs), bool)

    hard = soft.argmax(1)
    freq = np.bincount(hard, minlength=n_classes).astype(np.float64) + 1
    cw = (freq.sum() / (n_classes * freq)) ** a.balance_power
    cw = np.minimum(cw / cw[hard].mean(), a.max_weight)
    if a.no_balance:
        cw[:] = 1
    sample_w = torch.from_numpy(cw[hard]).float()

    dev = a.device
    if dev.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
        g = torch.Generator(device=dev).manual_seed(a.seed)
    model = build(a.arch, n_classes, a.width, a.upsample)
    if a.init:
        load_init(model, a.init, n_classes)
    meta = dict(vars(a), params=count_params(model), macs=count_macs(model))
    if dropped:
        meta["min_agreement_dropped"] = dropped
    model = model.to(dev)
    if a.mixstyle:
        augment.add_mixstyle(model, ["stem", "m1"], a.mixstyle, torch.Generator().manual_seed(a.seed + 1))
    teachers = [load_checkpoint(p)[0].to(dev) for p in a.teacher.split(",")] if a.teacher else []
    kd_w = torch.from_numpy(is_fer if a.kd_fer_only else np.ones(len(imgs), bool)).float().to(dev) * a.kd_alpha
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    ema = None
    if a.ema:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(a.ema), use_buffers=True)
    x_all, y_all = to_tensor(imgs).to(dev), torch.from_numpy(soft).float().to(dev)
    sample_w = sample_w.to(dev)
    labels = data.CLASSES if n_classes == 8 else data.CK_CLASSES
    keep_mouth = torch.tensor([c in ("happiness", "contempt") for c in labels], device=dev)
    n = len(x_all)
    steps = max(n // a.bs, 1)
    meta.update(n_train=n, n_val=len(v_imgs))
    print(json.dumps(meta), flush=True)
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    log = open(out / "log.jsonl", "w")
    best = -1.0
    amp = dev.startswith("cuda") and a.arch == "teacher"  # bf16 only for the big teacher
    t_start = time.time()
    for ep in range(a.epochs):
        if a.time_budget and time.time() - t_start >= a.time_budget:
            break
        model.train()
        perm = torch.from_numpy(rng.permutation(n)).to(dev)
        t0 = time.time()
        tot = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev)
        for i in range(steps):
            idx = perm[i * a.bs : (i + 1) * a.bs]
            if a.task == "ckfold":
                lr = paper_lr(ep, a.epochs, a.lr)
            elif a.time_budget:
                f = min((time.time() - t_start) / a.time_budget, 1.0)
                lr = cosine_lr(f * 100, 100, a.lr, warm=1.0)
            else:
                lr = cosine_lr(ep + i / steps, a.epochs, a.lr)
            for pg in opt.param_groups:
                pg["lr"] = lr
            xb, y = x_all[idx], y_all[idx]
            if a.mouth_swap:
                xb, y = augment.mouth_swap(xb, y, a.mouth_swap, a.mouth_beta, keep_mouth, g)
            clean = augment.geometric(xb, a.rot, a.shift, a.zoom, True, g)
            x = clean if a.no_camera_aug else augment.camera(clean, g, a.cam_p)
            if a.mouth_mask:
                x = mask_some(x, a.mouth_mask, g)
            # teachers read the face before the student's random erasing: the student
            # learns to read a partly hidden face as they read the whole one
            x_teacher = augment.normalise(clean) if a.kd_clean else None
            if a.erase:
                if x_teacher is None:
                    x_teacher = augment.normalise(x)
                x = augment.erase(x, a.erase, g)
            x = augment.normalise(x)
            if x_teacher is None:
                x_teacher = x
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                logits = model(x).float()
            loss_i = -(y * F.log_softmax(logits, 1)).sum(1)
            if teachers:
                # match the teachers' mean on the same augmented view (soft targets at T)
                with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.startswith("cuda")):
                    pt = sum(F.softmax(t(x_teacher).float() / a.kd_t, 1) for t in teachers) / len(teachers)
                kd = -(pt * F.log_softmax(logits / a.kd_t, 1)).sum(1) * a.kd_t**2
                w = kd_w[idx]
                loss_i = w * kd + (1 - w) * loss_i
            loss = (loss_i * sample_w[idx]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update_parameters(model)
            tot += loss.detach()
            correct += (logits.argmax(1) == y.argmax(1)).sum()
        scored = ema.module if ema is not None else model
        pv = predict(scored, v_imgs, 1024 if dev != "cpu" else 512, dev)
        vacc = float((pv.argmax(1) == v_lab).mean())
        vrec = data.mean_recall(pv.argmax(1), v_lab)
        rec = dict(epoch=ep + 1, lr=lr, loss=float(tot) / steps, train_acc=float(correct) / (steps * a.bs), val_acc=vacc, val_mean_recall=vrec, sec=time.time() - t0)
        print(json.dumps(rec), flush=True)
        log.write(json.dumps(rec) + "\n")
        log.flush()
        # FER+: keep the best on FER2013Valid. CK+ folds: the paper reports the model
        # at the end of its schedule, so keep the last (no peeking at the test fold).
        score = vrec if a.select == "mean_recall" else vacc
        if a.task == "ckfold" or score > best:
            best = score
            sd = {k: v.cpu() for k, v in scored.state_dict().items()}
            torch.save({"state_dict": sd, "arch": a.arch, "n_classes": n_classes, "width": a.width, "upsample": a.upsample, "epoch": ep + 1}, out / "best.pt")
    if a.task == "ckfold":
        sd = torch.load(out / "best.pt", map_location="cpu")["state_dict"]
        model.load_state_dict(sd)
        torch.save({"state_dict": sd, "arch": a.arch, "n_classes": 7, "upsample": a.upsample}, out / f"fold{a.fold}.pt")
        pv = predict(model, v_imgs, 512, dev)
        np.savez(out / f"fold{a.fold}_pred.npz", logits=pv, labels=v_lab, index=np.where(~tr)[0])


if __name__ == "__main__":
    main()
