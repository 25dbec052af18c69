"""Is "looks calm" less trustworthy when another emotion is close behind? (issue 18,
point 4; issue 19: held-out actors' sadness and contempt read as calm.)

    python training/talk_frames.py --split tune; python training/talk_frames.py --split report
    python training/experiments/calm_rival_probe.py [MODEL]

For each domain of transfer_thresholds.py, the calm captions the wording profile shows
(one view a frame) split by the strongest other emotion's probability, and beside each
split the precision of simply raising calm's threshold to the same number of captions.
Where the two precisions match, a "rival" rule adds nothing a threshold does not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tools")]
import data  # noqa: E402
import transfer_thresholds as tt  # noqa: E402

CALM = data.CLASSES.index("neutral")


def main() -> None:
    model = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models/emotionnet_nano_b.int8.onnx"
    doms = tt.domains(model, HERE.parent / ".cache/talk")
    th = tt.profile_thresholds(ROOT / "config/labels/en.toml")[CALM]
    print(f"{'domain':<12}{'calm shown':>11}{'right':>8}   rival limit: kept, right | same count by threshold: right")
    for d, (p, y) in doms.items():
        shown = (p.argmax(1) == CALM) & (p[:, CALM] >= th)
        if shown.sum() < 20:
            continue
        rival = np.delete(p, CALM, axis=1).max(1)
        row = f"{d:<12}{shown.sum():>11}{100 * (y[shown] == CALM).mean():7.1f}%  "
        for x in (0.1, 0.15, 0.2):
            kept = shown & (rival < x)
            k = int(kept.sum())
            by_th = shown & (p[:, CALM] >= np.sort(p[shown, CALM])[::-1][k - 1]) if k else kept
            row += f" | <{x}: {k}, {100 * (y[kept] == CALM).mean():5.1f}% : {100 * (y[by_th] == CALM).mean():5.1f}%"
        print(row)


if __name__ == "__main__":
    main()
