"""Forward + backward of the HEALPix scattering covariance with the stencil's two backward
passes: autograd's scatter-add (the gather ``x[:, neighbours]`` left to autograd, as before
``texsynth.healpix_stencil``) against the reader table (``StencilApply``).

One process, one ``[1, 1, npix]`` float32 white-noise map, ``J = log2(nside)``, ``L = 4``;
the two variants alternate call by call (so load from other processes hits both) and each
time is the median of ``--repeat`` calls after a warm-up; also checks that the new backward
pass gives the same gradient twice, bit for bit. Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_healpix_stencil.py --nsides 32 64 --threads 1 2
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

import texsynth.healpix_wavelets as hw
from texsynth.stats.healpix import HealpixScatteringCovariance

NEW = hw.stencil_apply


def scatter_add_apply(
    x: torch.Tensor, neighbours: torch.Tensor, taps: torch.Tensor, readers: torch.Tensor
) -> torch.Tensor:
    """The former application: autograd differentiates the gather (a scatter-add)."""
    return torch.bmm(x[:, neighbours].transpose(0, 1), taps.to(x.dtype))


def gradient(stats: HealpixScatteringCovariance, x: torch.Tensor) -> torch.Tensor:
    """The gradient of the sum of S0 ... S4 (moduli of complex ones) in ``x``."""
    t = x.clone().requires_grad_(True)
    s = stats(t)
    total = torch.zeros(())
    for name in ("S0", "S1", "S2", "S3", "S4"):
        v = getattr(s, name, None)
        if isinstance(v, torch.Tensor):
            total = total + (v.abs() if v.is_complex() else v).sum()
    (g,) = torch.autograd.grad(total, t)
    return g


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nsides", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| nside | threads | scatter-add (s) | reader table (s) | speed-up | bit-identical |")
    print("|---|---|---|---|---|---|")
    for nside in args.nsides:
        stats = HealpixScatteringCovariance(J=int(math.log2(nside)))
        x = torch.randn(1, 1, 12 * nside**2, generator=torch.Generator().manual_seed(nside))
        for threads in args.threads:
            torch.set_num_threads(threads)
            times: dict[str, list[float]] = {"old": [], "new": []}
            same = []
            for k in range(args.repeat + 1):
                for name, fn in (("old", scatter_add_apply), ("new", NEW)):
                    hw.stencil_apply = fn  # type: ignore[assignment]
                    t0 = time.perf_counter()
                    g = gradient(stats, x)
                    if k:
                        times[name].append(time.perf_counter() - t0)
                    if name == "new":
                        same.append(g)
            hw.stencil_apply = NEW
            old, new = statistics.median(times["old"]), statistics.median(times["new"])
            identical = all(torch.equal(same[0], g) for g in same)
            print(
                f"| {nside} | {threads} | {old:.3f} | {new:.3f} | {old / new:.2f}x | {identical} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
