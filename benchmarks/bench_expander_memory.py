"""Peak memory of one expander pass against the output size (issue 19): fits the constants
of ``texsynth.expander.expansion.estimate_expand_bytes``.

Each size runs in a fresh process (peak resident memory, ``ru_maxrss``, after the pass
minus before it), for the default configuration and a narrow one::

    PYTHONPATH=src python benchmarks/bench_expander_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, torch
torch.set_num_threads(1)
from texsynth.expander.model import ExpanderConfig, TransposerExpander
from texsynth.expander.expansion import estimate_expand_bytes
side, widths, dec = int(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
periodic = sys.argv[4] == "1"
cfg = ExpanderConfig(widths=tuple(widths), decoder_width=dec)
net = TransposerExpander(cfg).eval()
x = torch.rand(3, side, side)
net.expand(torch.rand(3, 16, 16))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
net.expand(x, periodic=periodic)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
estimate = estimate_expand_bytes(side, side, 2, cfg)
print(json.dumps({"side": side, "widths": widths, "decoder": dec, "periodic": periodic,
                  "peak_bytes": after - before, "estimate": estimate}))
"""


def main() -> None:
    for widths, dec in (((32, 64, 96), 48), ((8, 8, 16), 16)):
        for periodic in (False, True):
            for side in (64, 128, 256):
                r = subprocess.run(
                    [sys.executable, "-c", CHILD, str(side), json.dumps(widths), str(dec),
                     "1" if periodic else "0"],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                row = json.loads(r.stdout)
                row["bytes_per_out_px"] = round(row["peak_bytes"] / (4 * side * side), 1)
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
