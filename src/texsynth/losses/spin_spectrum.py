"""The E and B angular power spectra of spin-2 (Q/U) sky maps, differentiable, as a loss.

The spin-2 scattering statistics (:mod:`texsynth.healpix_spin`) do not change when every
polarisation angle turns by the same amount (``P -> e^{i phi} P``), which mixes E into B:
a synthesis from a pure-E sky on them alone comes out with about as much B as E
(docs/sphere.md, "E and B"). This loss holds ``C_ell^EE`` and ``C_ell^BB`` in bins of
``ell`` from 2 to ``3 nside - 1``, as :class:`~texsynth.losses.angular_spectrum.
AngularSpectrumLoss` holds a scalar sky's ``C_ell``.

The E and B alms are healpy's ``map2alm_spin(spin=2)`` of the RING-ordered Q and U (the
pixel quadrature, no iterations: ``anafast(iter=0)``), the gradient and curl parts of
``P = Q + i U``; healpy 1.20 returns them with the sign of ``map2alm(pol=True)``'s E and B
alms (checked in ``tests/losses/test_spin_spectrum.py``; HEALPix writes
``_{+-2}a_lm = -(a^E_lm +- i a^B_lm)``, Gorski et al. 2005, Zaldarriaga & Seljak 1997). The
backward pass is the exact transpose of that quadrature, ``healpy.alm2map_spin`` of the
gradient's alms (each ``m > 0`` halved) times the pixel area ``4 pi / npix``: two spin
transforms per loss evaluation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..domains.healpix import healpy_module, npix_of, nside_of
from ..errors import TexsynthError
from .angular_spectrum import (
    TOLERANCE,
    AlmTransform,
    alm_cross_power,
    harmonic_tables,
    spectrum_binning,
)
from .healpix import spin_exemplar
from .multipoles import LogSpectrumLoss

__all__ = ["DEPTH", "POWER_FLOOR", "SpinSpectrumLoss", "spin_spectra"]

#: the floor added to each bin's EE and BB power, as a fraction of the exemplar's EE + BB
#: power in that bin: a B (or E) power below ~1 % of the polarised power is held as "none"
POWER_FLOOR = 1e-2
#: a second floor, a fraction of the exemplar's largest ``(2 ell + 1) (C^EE + C^BB)`` (the
#: map variance per multipole) spread over each multipole's ``2 ell + 1`` modes: bins with
#: less power than that (the tail of a band-limited sky) are held only to stay below it
DEPTH = 1e-3


def _map2alm_spin(x: np.ndarray, nside: int, lmax: int) -> np.ndarray:
    """``[X, 2, npix]`` nested float64 (Q, U) -> ``[X, 2, 2, nalm]`` (E and B; real and
    imaginary parts)."""
    hp = healpy_module()
    ring_to_nest = harmonic_tables(nside, lmax)[0]
    out = []
    for q, u in x:
        ring = [np.ascontiguousarray(q[ring_to_nest]), np.ascontiguousarray(u[ring_to_nest])]
        e, b = hp.map2alm_spin(ring, 2, lmax=lmax)
        out.append(np.stack([np.stack([e.real, e.imag]), np.stack([b.real, b.imag])]))
    return np.stack(out)


def _map2alm_spin_adjoint(g: np.ndarray, nside: int, lmax: int) -> np.ndarray:
    """The transpose of :func:`_map2alm_spin`: ``[X, 2, 2, nalm] -> [X, 2, npix]`` nested."""
    hp = healpy_module()
    _, nest_to_ring, _, m = harmonic_tables(nside, lmax)
    half = np.where(m > 0, 0.5, 1.0)  # alm2map_spin counts each m > 0 twice (the -m terms)
    area = 4 * math.pi / npix_of(nside)
    out = []
    for row in g:
        alms = [((part[0] + 1j * part[1]) * half).astype(np.complex128) for part in row]
        q, u = hp.alm2map_spin(alms, nside, 2, lmax)
        out.append(np.stack([q[nest_to_ring], u[nest_to_ring]]) * area)
    return np.stack(out)


def spin_spectra(x: torch.Tensor, lmax: int | None = None) -> torch.Tensor:
    """``C_ell^EE``, ``C_ell^BB`` and ``C_ell^EB`` of nested full-sky ``(Q, U)`` maps
    ``x [..., 2, npix]`` for ``ell = 0 ... lmax`` (default ``3 nside - 1``; ``ell < 2`` is
    0), ``[..., 3, lmax + 1]``, differentiable: healpy's ``anafast(pol=True, iter=0)``."""
    if x.dim() < 2 or x.shape[-2] != 2:
        raise TexsynthError(f"spin_spectra takes (Q, U) maps [..., 2, npix], got {tuple(x.shape)}")
    nside = nside_of(int(x.shape[-1]), "the maps")
    lmax = 3 * nside - 1 if lmax is None else lmax
    lead = x.shape[:-2]
    qu = x.reshape(-1, 2, x.shape[-1])
    a = AlmTransform.apply(qu, lmax, _map2alm_spin, _map2alm_spin_adjoint)  # [X, 2, 2, nalm]
    e, b = a[:, 0], a[:, 1]
    cl = [alm_cross_power(e, e, lmax), alm_cross_power(b, b, lmax), alm_cross_power(e, b, lmax)]
    return torch.stack(cl, 1).reshape(*lead, 3, lmax + 1)


class SpinSpectrumLoss(LogSpectrumLoss):
    """Squared differences of ``log(C^EE + f)`` and ``log(C^BB + f)`` from an exemplar
    ``(Q, U)`` sky's, in bins of ``ell`` (about 10 % wide) from ``lmin`` to ``3 nside - 1``,
    each in units of its tolerance (cosmic variance, floored at ``tolerance``, as
    :class:`~texsynth.losses.angular_spectrum.AngularSpectrumLoss`), averaged over bins and
    the two spectra.

    The floor ``f = floor * (C^EE + C^BB)_exemplar`` of each bin makes the loss well posed
    on a pure-E (or pure-B) exemplar, whose B power is numerical noise: ``log C^BB`` would
    chase that noise with a gradient ``1 / C^BB`` that is unbounded. With the floor, a B
    power ``P`` costs ``log(1 + P / f)`` in units of the tolerance, so a synthesis is pushed
    until its B is a small fraction (``floor``) of the exemplar's polarised power in every
    bin, and no further; where the exemplar has B (``C^BB >> f``) the term is the plain
    log-spectrum distance. The floor is relative to the exemplar's total polarised power, so
    E and B are treated alike (the loss of a pure-B exemplar mirrors that of a pure-E one)
    and it does not depend on the maps' units. A linear distance on B would weigh the
    high-power bins only; a floor relative to ``C^EE`` alone would be undefined for a
    pure-B sky.

    The second floor (``depth``) is for band-limited skies (e.g. a beamed CMB map), whose
    pixel-scale power is orders of magnitude below their peak: matching ``log C`` there
    ill-conditions the optimisation (from white noise at weight 1, 20 steps left the spin-2
    S2 of an nside-8 sky with a Gaussian beam at ``ell = 6`` 57 % off at ``j = 1``, 8 %
    with ``depth = 1e-3``; 60 steps: 26 % and 0.5 %). Such bins are held only to stay below
    a thousandth of the peak variance per multipole. On a red spectrum the floor is far
    below the power (``C ∝ ell^-1``: 0.1 % of it at every ``ell``; ``C ∝ ell^-2``: about
    ``6e-4 ell`` of it, half the power at ``ell ≈ 800``).

    Parameters
    ----------
    exemplar
        ``[2, npix]`` or ``[B, 2, npix]`` full-sky ``(Q, U)`` maps (nested, healpy's COSMO
        convention); with ``B > 1`` their spectra are averaged.
    lmin
        The lowest multipole matched (at least 2: spin-2 fields have no ``ell < 2``).
    tolerance
        The floor of each bin's tolerance (relative power).
    floor
        The power floor, a fraction of the exemplar's ``C^EE + C^BB`` per bin (positive).
    depth
        A second floor, ``depth`` times the exemplar's largest ``(2 ell + 1) (C^EE +
        C^BB)`` divided by ``2 ell + 1`` (0 to 1; 0 turns it off).
    weights
        Relative weights of the EE and BB terms (positive; each divides its tolerance by
        its square root).
    """

    binning: torch.Tensor
    offset: torch.Tensor

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        lmin: int = 2,
        tolerance: float = TOLERANCE,
        floor: float = POWER_FLOOR,
        depth: float = DEPTH,
        weights: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        super().__init__()
        ex = spin_exemplar(exemplar)
        nside = nside_of(int(ex.shape[-1]), "the exemplar")
        lmax = 3 * nside - 1
        if isinstance(lmin, bool) or not isinstance(lmin, int) or not 2 <= lmin <= lmax:
            raise TexsynthError(f"lmin must be an integer from 2 to {lmax}, got {lmin!r}")
        for name, value in (("tolerance", tolerance), ("floor", floor)):
            if not value > 0:
                raise TexsynthError(f"{name} must be positive, got {value!r}")
        if not 0 <= depth < 1:
            raise TexsynthError(f"depth must be from 0 to 1, got {depth!r}")
        if len(weights) != 2 or not all(w > 0 for w in weights):
            raise TexsynthError(f"weights must be two positive numbers, got {weights!r}")
        self.nside, self.lmin, self.lmax = nside, lmin, lmax
        self.tolerance, self.floor, self.depth = tolerance, floor, depth
        self.weights = tuple(weights)
        binning, sigma = spectrum_binning(lmin, lmax, tolerance)
        self.register_buffer("binning", binning, persistent=False)
        w = torch.tensor(weights, dtype=sigma.dtype)
        self.register_buffer("sigma", sigma[None, :] / w.sqrt()[:, None], persistent=False)
        cl = spin_spectra(ex.double(), lmax)[:, :2].mean(0)  # [2, lmax + 1]
        power = cl @ binning.T  # [2, K]
        modes = 2 * torch.arange(lmax + 1, dtype=torch.float64) + 1
        peak = float((cl.sum(0) * modes)[lmin:].max())  # the largest variance per multipole
        offset = floor * power.sum(0) + depth * peak / modes @ binning.T
        self.register_buffer("offset", offset, persistent=False)
        if not bool((self.offset > 0).all()):
            raise TexsynthError("the exemplar's Q and U have no power in some ell bin")
        self.register_buffer("target", torch.log(power + self.offset), persistent=False)

    def at(self, exemplar: torch.Tensor, **overrides: object) -> SpinSpectrumLoss:
        """The same loss from another exemplar (``overrides``: ``lmin``, ``tolerance``,
        ``floor``, ``depth``, ``weights``)."""
        options: dict[str, Any] = {
            "lmin": self.lmin,
            "tolerance": self.tolerance,
            "floor": self.floor,
            "depth": self.depth,
            "weights": self.weights,
        }
        options.update(overrides)
        return SpinSpectrumLoss(exemplar, **options)

    def binned(self, x: torch.Tensor) -> torch.Tensor:
        """Binned ``C^EE`` and ``C^BB`` of ``x [B, 2, npix]``, ``[B, 2, bins]`` (float64)."""
        cl = spin_spectra(x.double(), self.lmax)[:, :2]
        return cl @ self.binning.to(cl.dtype).T

    def log_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """Binned ``log(C^EE + f)`` and ``log(C^BB + f)`` of ``x [B, 2, npix]``,
        ``[B, 2, bins]`` (float64)."""
        return torch.log(self.binned(x) + self.offset.to(torch.float64))
