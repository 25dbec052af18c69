"""Frame-to-frame jitter of the detector's face box on a replayed clip, in the units the
training augmentation uses (issue 8: augmentation as large as the detector's jitter).

    emocue replay clip.y4m --no-timing --events /tmp/ev.jsonl
    python training/tools/box_jitter.py /tmp/ev.jsonl

Jitter = the raw box minus a centred 5-frame moving average (which keeps real head
motion), as a fraction of the box width (shift) and as a size ratio (scale); the
roll comes from the eye keypoints. Reports the 95th percentile of each.
"""

import json
import math
import sys

import numpy as np

rows = []
for line in open(sys.argv[1]):
    ev = json.loads(line)
    f = [f for f in ev["faces"] if f.get("detected")]
    if len(f) == 1:
        x, y, w, h = f[0]["box"]
        le, re = f[0]["keypoints"]["left_eye"], f[0]["keypoints"]["right_eye"]
        roll = math.degrees(math.atan2(le[1] - re[1], le[0] - re[0]))
        rows.append((x + w / 2, y + h / 2, w, roll))
a = np.array(rows)
k = 5
smooth = np.stack([np.convolve(a[:, i], np.ones(k) / k, mode="valid") for i in range(4)], 1)
raw = a[k // 2 : len(a) - k // 2]
dx = np.abs(raw[:, 0] - smooth[:, 0]) / smooth[:, 2]
dy = np.abs(raw[:, 1] - smooth[:, 1]) / smooth[:, 2]
ds = np.abs(np.log(raw[:, 2] / smooth[:, 2]))
dr = np.abs(raw[:, 3] - smooth[:, 3])
p95 = lambda v: float(np.percentile(v, 95))  # noqa: E731
print(json.dumps({
    "frames": int(len(a)),
    "shift_x_p95": round(p95(dx), 4),
    "shift_y_p95": round(p95(dy), 4),
    "scale_factor_p95": round(math.exp(p95(ds)), 4),
    "roll_deg_p95": round(p95(dr), 2),
    "trained_for": {"shift": 0.06, "scale_factor": 1.12, "roll_deg": 10.0},
}))
