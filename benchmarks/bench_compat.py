"""A foscat script, unchanged apart from its import line: foscat vs ``texsynth.compat.foscat``.

Runs seed 001's minimal 2D example (``funct(NORIENT=4)``, ``synthesis(xnorm, seed=10,
nstep=3, NUM_EPOCHS=100)``) on the top-left 256x256 crop of scikit-image's ``gravel()``, once
through each import, and prints the wall time of the ``synthesis`` call and the output.
Run it in the benchmark environment (foscat installed, see ``benchmarks/README.md``)::

    benchmarks/.venv-bench/bin/python benchmarks/bench_compat.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import time

import numpy as np
import torch
from skimage import data

from bench_stats import machine_info

MODULES = {
    "foscat": "foscat.scat_cov2D",
    "texsynth.compat.foscat": "texsynth.compat.foscat.scat_cov2D",
}


def run(module: str, image: np.ndarray) -> tuple[float, np.ndarray]:
    """The seed's example with ``import <module> as sc``: (seconds, result)."""
    with contextlib.redirect_stdout(io.StringIO()):  # foscat prints its progress
        sc = importlib.import_module(module)
        scat_op = sc.funct(NORIENT=4)
        xnorm = (image - image.mean()) / image.std()
        t0 = time.perf_counter()
        result = scat_op.synthesis(xnorm, seed=10, nstep=3, NUM_EPOCHS=100)
        seconds = time.perf_counter() - t0
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per library (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = data.gravel()[:256, :256].astype(np.float64)
    print("\n".join(machine_info(args.threads)))
    print("\n| import | runs | time s median (min) | output |")
    print("|:---|---:|---:|:---|")
    times = {}
    for name, module in MODULES.items():
        runs = [run(module, image) for _ in range(args.repeat)]
        seconds = sorted(s for s, _ in runs)
        out = runs[0][1]
        times[name] = float(np.median(seconds))
        print(
            f"| `{module}` | {args.repeat} | {times[name]:.1f} ({seconds[0]:.1f}) | "
            f"{type(out).__name__} {out.dtype} {out.shape} |"
        )
    ratio = times["foscat"] / times["texsynth.compat.foscat"]
    print(f"\nSame script, texsynth.compat.foscat {ratio:.1f}x faster than foscat.")


if __name__ == "__main__":
    main()
