"""Ratio table of `emocue bench --json` against `tools/bench_onnxruntime.py --json`.

    python training/tools/compare_bench.py /tmp/tract.json /tmp/ort.json
"""

import json
import sys

tract, ort = (json.load(open(p)) for p in sys.argv[1:3])
print("| measurement | emocue (tract) per s | onnxruntime per s | ratio | tract p50 ms | ort p50 ms |")
print("|---|---|---|---|---|---|")
for k, v in tract.items():
    if isinstance(v, dict) and "per_s" not in v:
        print(f"| {k} | skipped: {v.get('skipped', '?')} | | | | |")
    elif isinstance(v, dict) and k in ort:
        o = ort[k]
        print(f"| {k} | {v['per_s']:.0f} | {o['per_s']:.0f} | {v['per_s'] / o['per_s']:.2f} | {v['p50_ms']:.2f} | {o['p50_ms']:.2f} |")
    elif isinstance(v, dict):
        print(f"| {k} | {v['per_s']:.0f} | – | – | {v['p50_ms']:.2f} | – |")
