"""Does the spin-1 transport make ``HealpixScatteringCovariance(spin=1)`` more
rotation-invariant? The same vector sky (healpy's spin-1 maps) in two coordinate systems:
the largest relative difference of the orientation-averaged S1 and S2, with the spin-1
transport, with spin-2 phases, and filtering the two components as scalar maps (the
numbers quoted in docs/sphere.md, "Vector fields (spin 1)"). Run::

    OMP_NUM_THREADS=1 python benchmarks/healpix_spin1_rotation.py --nside 16 --skies 4
"""

from __future__ import annotations

import argparse

import healpy as hp
import numpy as np
import torch

from texsynth.healpix_wavelets import HealpixWaveletBank
from texsynth.stats.healpix import HealpixScatteringCovariance

ROT = (30.0, 60.0, 10.0)  # Euler angles (degrees), as tests/stats/test_healpix_spin.py


def _nested(maps: np.ndarray) -> np.ndarray:
    return np.stack([hp.reorder(m, r2n=True) for m in maps])


def _iso(s1: torch.Tensor, s2: torch.Tensor) -> np.ndarray:
    return torch.stack([s1.mean(-1), s2.mean(-1)]).reshape(2, -1).numpy()


def _untransported(bank: HealpixWaveletBank, v: torch.Tensor) -> np.ndarray:
    s1, s2 = [], []
    for j in range(bank.J):
        a, b = (bank.transform(bank.downsample(v[:, k : k + 1], j), j) for k in (0, 1))
        c = a + 1j * b
        s1.append(c.abs().mean(-1))
        s2.append((c.abs() ** 2).mean(-1))
    return _iso(torch.stack(s1, 2), torch.stack(s2, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nside", type=int, default=16)
    parser.add_argument("--J", type=int, default=3)
    parser.add_argument("--skies", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    nside, lmax = args.nside, 3 * args.nside - 1
    ell = np.arange(lmax + 1)
    cl = np.zeros(lmax + 1)
    cl[2:] = np.exp(-((ell[2:] / 12.0) ** 2)) / ell[2:]
    rot = hp.Rotator(rot=ROT)
    bank = HealpixWaveletBank(nside, args.J)
    for seed in range(args.skies):
        np.random.seed(seed)  # noqa: NPY002 (synalm draws from numpy's global generator)
        e, b = hp.synalm(cl, lmax=lmax), hp.synalm(cl, lmax=lmax)
        skies = [
            _nested(hp.alm2map_spin(alms, nside, 1, lmax))
            for alms in ([e, b], [rot.rotate_alm(e), rot.rotate_alm(b)])
        ]
        row = []
        for spin in (1, 2):
            sc = HealpixScatteringCovariance(J=args.J, spin=spin)
            iso = [_iso(s.S1, s.S2) for s in (sc(torch.tensor(m[None])) for m in skies)]
            row.append(np.abs(iso[0] / iso[1] - 1).max())
        plain = [_untransported(bank, torch.tensor(m[None])) for m in skies]
        row.append(np.abs(plain[0] / plain[1] - 1).max())
        print(f"sky {seed}: spin-1 transport {row[0]:.3f}, spin-2 phases {row[1]:.3f}, "
              f"no transport {row[2]:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
