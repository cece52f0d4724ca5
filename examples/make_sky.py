"""Generate ``examples/dust_sky.fits`` and ``examples/dust_qu.fits``, the small HEALPix skies
shipped for trying texsynth on the sphere (the second for Q/U polarisation).

Needs the ``healpix`` extra (``pip install -e ".[healpix]"``: healpy and astropy). The skies are
procedural, made from scratch here with a fixed seed (no third-party data), so it carries
the project's MIT licence: ``python examples/make_sky.py`` rewrites the same numbers for
given numpy and healpy versions.

File written next to this script
--------------------------------
dust_sky.fits
    nside 64 (49 152 pixels), NESTED ordering, one float32 column ``INTENSITY``: a
    log-normal, dust-like sky ``exp(g)``, ``g`` a unit-variance Gaussian field with angular
    power spectrum ``C_ell ∝ ell**-2.5`` for ``ell >= 2`` (Górski et al. 2005 for HEALPix;
    a log-normal field is the usual toy model of Galactic dust intensity). Strongly skewed,
    positive, about 0.02 to 47 with median 1.
dust_qu.fits
    nside 32 (12 288 pixels), NESTED, float32 columns ``I_STOKES``, ``Q_STOKES``,
    ``U_STOKES``: a toy polarised dust sky, ``I`` log-normal as above and ``Q + iU = 0.1 I
    exp(2i psi)`` with a smooth Gaussian angle field ``psi`` (healpy's COSMO convention).
    For ``texsynth synth|stats dust_qu.fits --spin 2``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NSIDE = 64
QU_NSIDE = 32
SLOPE = 2.5
OUT = Path(__file__).resolve().parent


def gaussian_sky(nside: int, seed: int, slope: float) -> np.ndarray:
    """A zero-mean, unit-variance Gaussian sky of ``C_ell ∝ ell**-slope`` (``ell >= 2``) in
    NESTED order, drawn from ``numpy.random.default_rng(seed)`` harmonic coefficients."""
    import healpy as hp

    lmax = 3 * nside - 1
    cl = np.zeros(lmax + 1)
    cl[2:] = np.arange(2, lmax + 1, dtype=np.float64) ** -slope
    ell, m = hp.Alm.getlm(lmax)
    rng = np.random.default_rng(seed)
    alm = (rng.standard_normal(ell.size) + 1j * rng.standard_normal(ell.size)) * np.sqrt(
        cl[ell] / 2
    )
    alm[m == 0] = rng.standard_normal(int((m == 0).sum())) * np.sqrt(cl[ell[m == 0]])
    g = hp.reorder(hp.alm2map(alm, nside, lmax=lmax), r2n=True)
    return (g - g.mean()) / g.std()


def dust_sky(nside: int = NSIDE, seed: int = 7, slope: float = SLOPE) -> np.ndarray:
    """``exp(g)`` in NESTED order, ``g`` a :func:`gaussian_sky`."""
    return np.exp(gaussian_sky(nside, seed, slope)).astype(np.float32)


def dust_polarisation(nside: int = QU_NSIDE, seed: int = 11) -> np.ndarray:
    """``[3, npix]`` NESTED Stokes ``(I, Q, U)``: ``I`` a :func:`dust_sky`, ``Q + iU =
    p I exp(2i psi)`` with polarisation fraction ``p = 0.1`` and angle ``psi = (pi / 2) h``
    (radians, in each pixel's local frame), ``h`` a smoother Gaussian sky (``C_ell ∝
    ell**-3``): ``2 psi`` spreads over the whole circle, so no direction of the local frames
    is preferred and the field is a statistically isotropic spin-2 field."""
    intensity = dust_sky(nside, seed)
    psi = 0.5 * np.pi * gaussian_sky(nside, seed + 1, 3.0)
    q = 0.1 * intensity * np.cos(2 * psi)
    u = 0.1 * intensity * np.sin(2 * psi)
    return np.stack([intensity, q, u]).astype(np.float32)


def main() -> None:
    """Write ``dust_sky.fits`` and ``dust_qu.fits`` next to this script."""
    from texsynth import write_healpix_map

    path = OUT / "dust_sky.fits"
    write_healpix_map(path, dust_sky(), column_names=["INTENSITY"], overwrite=True)
    print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")
    path = OUT / "dust_qu.fits"
    names = ["I_STOKES", "Q_STOKES", "U_STOKES"]
    write_healpix_map(path, dust_polarisation(), column_names=names, overwrite=True)
    print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
