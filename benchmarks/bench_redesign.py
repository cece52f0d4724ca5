"""Speed of the redesign (issue 16): the same calls timed on two source trees, interleaved.

Each case runs in fresh subprocesses per tree (``PYTHONPATH=TREE/src``), the trees alternating;
each process times ``--inner`` calls after a warm-up and keeps the fastest, and the
median over processes is reported per tree with the ratio (new / old).
The cases are the public calls both trees have: scattering statistics forward + backward
(``ScatteringCovariance`` on a 256x256 image, ``ScatteringCovariance1D`` on 4 x 4096
samples) and syntheses with a fixed budget (``tol=0``: every iteration runs, so the time
per iteration is compared) of a 128x128 grey and colour image (n = 1 and 4) and of 4
signals of 4096 samples; the ``batched`` cases pass ``exact_members=False`` to a tree
that has it (one loss call on the whole batch, as the old tree always made)::

    python benchmarks/bench_redesign.py OLD_TREE NEW_TREE --repeat 5
    python benchmarks/bench_redesign.py OLD_TREE NEW_TREE --threads 1 --clock cpu  # shared machine

where a tree is a checkout (``git archive REV | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

CASES = {
    "stats 2-D 256^2 fwd+bwd": """
import torch
from texsynth import ScatteringCovariance
x = torch.rand(1, 1, 256, 256, requires_grad=True)
sc = ScatteringCovariance(J=6, L=4)
def once():
    sc(x).flatten()[0].abs().sum().backward()
""",
    "stats 1-D 4x4096 fwd+bwd": """
import torch
from texsynth import ScatteringCovariance1D
x = torch.rand(4, 1, 4096, requires_grad=True)
sc = ScatteringCovariance1D(J=9)
def once():
    sc(x).flatten()[0].abs().sum().backward()
""",
    "synth grey 128^2 n=1, 60 it": """
import torch
from texsynth import synthesize
ex = torch.rand(1, 128, 128, generator=torch.Generator().manual_seed(0)).cumsum(-1)
def once():
    synthesize(ex, method="scattering", n=1, seed=0, steps=60, tol=0.0, progress=False)
""",
    "synth grey 128^2 n=4, 60 it": """
import torch
from texsynth import synthesize
ex = torch.rand(1, 128, 128, generator=torch.Generator().manual_seed(0)).cumsum(-1)
def once():
    synthesize(ex, method="scattering", n=4, seed=0, steps=60, tol=0.0, progress=False)
""",
    "synth grey 128^2 n=4 batched, 60 it": """
import inspect, torch
from texsynth import synthesize
ex = torch.rand(1, 128, 128, generator=torch.Generator().manual_seed(0)).cumsum(-1)
has_option = "exact_members" in inspect.signature(synthesize).parameters
batched = {"exact_members": False} if has_option else {}
def once():
    synthesize(ex, method="scattering", n=4, seed=0, steps=60, tol=0.0, progress=False, **batched)
""",
    "synth colour 128^2 n=1, 40 it": """
import torch
from texsynth import synthesize
ex = torch.rand(3, 128, 128, generator=torch.Generator().manual_seed(0)).cumsum(-1)
def once():
    synthesize(ex, method="scattering", n=1, seed=0, steps=40, tol=0.0, progress=False)
""",
    "synth signals 4096 n=4, 60 it": """
import torch
from texsynth import synthesize_1d
x = torch.randn(1, 4096, generator=torch.Generator().manual_seed(0))
def once():
    synthesize_1d(x, n=4, seed=0, steps=60, tol=0.0, progress=False)
""",
    "synth signals 4096 n=4 batched, 60 it": """
import inspect, torch
from texsynth import synthesize_1d
x = torch.randn(1, 4096, generator=torch.Generator().manual_seed(0))
has_option = "exact_members" in inspect.signature(synthesize_1d).parameters
batched = {"exact_members": False} if has_option else {}
def once():
    synthesize_1d(x, n=4, seed=0, steps=60, tol=0.0, progress=False, **batched)
""",
}

RUNNER = """
import time, sys
{setup}
once()  # warm-up: imports, filter banks, allocator
best = float("inf")
for _ in range({inner}):
    t = {clock}(); once(); best = min(best, {clock}() - t)
print(best)
"""


CLOCKS = {"wall": "time.perf_counter", "cpu": "time.process_time"}


def time_case(tree: str, setup: str, inner: int, threads: int = 2, clock: str = "wall") -> float:
    env = {**os.environ, "PYTHONPATH": os.path.join(tree, "src"), "OMP_NUM_THREADS": str(threads)}
    code = RUNNER.format(setup=setup, inner=inner, clock=CLOCKS[clock])
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--repeat", type=int, default=3, help="fresh processes per tree")
    p.add_argument("--inner", type=int, default=5, help="timed calls per process (min)")
    p.add_argument("--cases", nargs="*", help="only these cases (substrings of the names)")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of each process")
    p.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall: elapsed time; cpu: the process's CPU time (with --threads 1, much less "
        "moved by other processes on a shared machine than the elapsed time)",
    )
    args = p.parse_args()
    print("| case | old (s) | new (s) | new / old |\n|---|---|---|---|")
    for name, setup in CASES.items():
        if args.cases and not any(c in name for c in args.cases):
            continue
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.repeat):
            for which in ("old", "new"):
                times[which].append(
                    time_case(getattr(args, which), setup, args.inner, args.threads, args.clock)
                )
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        print(f"| {name} | {old:.3f} | {new:.3f} | {new / old:.2f} |", flush=True)


if __name__ == "__main__":
    main()
