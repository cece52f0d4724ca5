"""HEALPix syntheses with and without the full-range spectrum loss: their C_ell against the
exemplar's, and how close their scattering statistics stay.

The exemplar is ``bench_healpix.lognormal_sky(nside)`` (a lognormal sky ``exp(g)``, ``g`` of
``C_ell ∝ ell^-2.5``). For each ``spectrum`` weight, ``synthesize_healpix(sky, n, seed=0,
spectrum=w)``; reported: the ratio of the mean ``anafast`` C_ell of the maps to the
exemplar's in bins of ``ell`` (``nside / 4`` wide), its worst deviation from 1 over the
bins, and the scattering loss of the maps against the exemplar
(``HealpixScatteringLoss``, with ``use_variance``: about 1 is the distance of a second
realisation), plus the seconds per map.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_healpix_spectrum.py --nside 32 --weights 0 1
"""

from __future__ import annotations

import argparse
import json
import time

import healpy as hp
import numpy as np
import torch

from bench_healpix import lognormal_sky


def binned_ratio(sky: np.ndarray, maps: np.ndarray, nside: int) -> list[tuple[int, int, float]]:
    """``(lo, hi, ratio)`` of the maps' mean C_ell to the sky's in bins ``[lo, hi)``."""
    ref = hp.anafast(hp.reorder(sky, n2r=True))
    cl = np.mean([hp.anafast(hp.reorder(m, n2r=True)) for m in maps], 0)
    width = max(nside // 4, 2)
    edges = list(range(2, 3 * nside, width)) + [3 * nside]
    return [
        (lo, hi, float(cl[lo:hi].sum() / ref[lo:hi].sum()))
        for lo, hi in zip(edges, edges[1:], strict=False)
    ]


def main() -> None:
    from texsynth.losses.healpix import HealpixScatteringLoss
    from texsynth.synthesis.sphere import synthesize_healpix

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nside", type=int, default=32)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0])
    args = parser.parse_args()
    sky = lognormal_sky(args.nside).astype(np.float32)
    ex = torch.from_numpy(sky)[None, None]
    scat = HealpixScatteringLoss(ex)
    rows = []
    other = lognormal_sky(args.nside, seed=1)  # a second realisation of the process
    with torch.no_grad():
        s_other = float(scat(torch.from_numpy(other).float()[None, None]).mean())
    ratio = binned_ratio(sky.astype(np.float64), other[None], args.nside)
    worst = max(abs(r - 1) for _, _, r in ratio)
    rows.append(
        {"spectrum": "another sky", "scattering_loss": s_other, "worst": worst, "ratio": ratio}
    )
    print(json.dumps(rows[-1]), flush=True)
    for w in args.weights:
        t0 = time.perf_counter()
        out = synthesize_healpix(
            torch.from_numpy(sky), n=args.n, seed=0, steps=args.steps, spectrum=w, progress=False
        )
        seconds = (time.perf_counter() - t0) / args.n
        maps = out[:, 0].numpy().astype(np.float64)
        ratio = binned_ratio(sky.astype(np.float64), maps, args.nside)
        with torch.no_grad():
            s_loss = float(scat(out.float()).mean())
        worst = max(abs(r - 1) for _, _, r in ratio)
        rows.append(
            {
                "spectrum": w,
                "seconds_per_map": seconds,
                "scattering_loss": s_loss,
                "worst": worst,
                "ratio": ratio,
            }
        )
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
