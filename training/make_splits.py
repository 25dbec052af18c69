"""Subject-independent 10-fold split of CK+48: writes splits/ckplus_10fold.csv.

Every subject lands in exactly one fold; folds get 11 or 12 of the 118 subjects and
about the same number of images (greedy: largest subject first into the emptiest fold
that still has room). Seeded, so the file is reproducible byte for byte.

    python training/make_splits.py
"""

import collections
import csv
import random

from data import SPLIT_FILE, load_ckplus

K = 10


def main() -> None:
    _, _, subjects, _ = load_ckplus()
    counts = collections.Counter(subjects.tolist())
    subs = sorted(counts)
    random.Random(0).shuffle(subs)
    subs.sort(key=lambda s: -counts[s])  # stable: ties keep the seeded order
    cap = -(-len(subs) // K)
    folds = [[] for _ in range(K)]
    sizes = [0] * K
    for s in subs:
        open_folds = [f for f in range(K) if len(folds[f]) < cap]
        f = min(open_folds, key=lambda f: (sizes[f], len(folds[f]), f))
        folds[f].append(s)
        sizes[f] += counts[s]
    SPLIT_FILE.parent.mkdir(exist_ok=True)
    with open(SPLIT_FILE, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subject", "fold"])
        for s in sorted(counts):
            w.writerow([s, next(f for f in range(K) if s in folds[f])])
    for f in range(K):
        print(f"fold {f}: {len(folds[f])} subjects, {sizes[f]} images")


if __name__ == "__main__":
    main()
