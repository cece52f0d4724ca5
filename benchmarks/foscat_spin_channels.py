"""Which of foscat's ``spin`` channels is E (gradient) and which B (curl), and how much the
other leaks in: foscat's ``eval(..., spin=s)`` S2 on a pure-E and a pure-B sky; and how
little texsynth's spin-2 coefficients split into E and B at the finest scale (the numbers
quoted in docs/foscat-compat.md, "Polarisation").

Needs foscat (``pip install -e '.[foscat]'``) and healpy; foscat builds its spin operators
pixel batch by pixel batch with spherical-harmonic transforms (about 10 s at nside 8 on 2
CPU cores). Run::

    OMP_NUM_THREADS=1 python benchmarks/foscat_spin_channels.py --nside 8
"""

from __future__ import annotations

import argparse
import tempfile
import warnings

import healpy as hp
import numpy as np
import torch


def pure_skies(nside: int, spin: int, seed: int = 1) -> dict[str, np.ndarray]:
    """A pure-E and a pure-B sky with the same multipoles (C_ell = 1/ell), ``(2, npix)``
    nested: healpy's spin-``spin`` maps."""
    lmax = 3 * nside - 1
    ell = np.arange(lmax + 1)
    cl = np.zeros(lmax + 1)
    cl[2:] = 1.0 / ell[2:]
    np.random.seed(seed)  # noqa: NPY002 (synalm draws from numpy's global generator)
    alm = hp.synalm(cl, lmax=lmax)
    zero = 0 * alm
    out = {}
    for name, (e, b) in (("pure E", (alm, zero)), ("pure B", (zero, alm))):
        maps = hp.alm2map_spin([e, b], nside, spin, lmax)
        out[name] = np.stack([hp.reorder(m, r2n=True) for m in maps]).astype(np.float32)
    return out


def texsynth_split(nside: int, K: int = 3, L: int = 4) -> np.ndarray:
    """``<|a_l|^2> / <|b_l|^2>`` per orientation on a pure-E sky at scale 0, where ``c_l =
    a_l + i b_l`` and ``a_l``, ``b_l`` filter the Stokes parameters measured on wavelet
    ``l``'s axis (``Re`` and ``Im`` of the transported, axis-turned ``P``): the local
    analogue of an E/B split of texsynth's spin-2 coefficients."""
    from texsynth.healpix_spin import spin_operator

    sky = pure_skies(nside, 2)["pure E"].astype(np.float64)
    p = sky[0] + 1j * sky[1]
    nb, plus = spin_operator(nside, K, L, 2)  # weights times e^{2i(alpha - psi_l)}
    _, minus = spin_operator(nside, K, L, -2)  # the same with the conjugate phases
    idx = nb.numpy()
    c = (plus.numpy() * p[idx][None]).sum(-1)
    c_bar = (minus.numpy() * np.conj(p)[idx][None]).sum(-1)
    a, b = (c + c_bar) / 2, (c - c_bar) / 2j
    return (np.abs(a) ** 2).mean(-1) / (np.abs(b) ** 2).mean(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nside", type=int, default=8)
    parser.add_argument("--J", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ratio = ", ".join(f"{r:.2f}" for r in texsynth_split(args.nside))
    print(f"texsynth spin 2, pure E, scale 0: <|a|^2> / <|b|^2> per orientation: {ratio}")
    import foscat.scat_cov as fsc

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for spin in (2, 1):
            op = fsc.funct(NORIENT=4, KERNELSZ=3, TEMPLATE_PATH=tmp, silent=True)
            for name, sky in pure_skies(args.nside, spin).items():
                s2 = np.asarray(op.eval(sky, spin=spin, Jmax=args.J).S2)[0, 0].mean(-1)
                ratio = ", ".join(f"{r:.3f}" for r in s2[1] / s2[0])
                print(f"spin {spin}, {name}: S2 channel 1 / channel 0 per scale: {ratio}")


if __name__ == "__main__":
    main()
