"""The large-scale angular power spectrum of sky maps as a loss: ``C_ell`` for ``ell <= lmax``.

The scattering wavelets on the sphere stop at ``nside = 2`` (:mod:`texsynth.
healpix_wavelets`); the dipole and the lowest multipoles lie beyond them and, left free, a
synthesis from white noise gets a dipole tens of times the exemplar's. This loss matches the
exemplar's ``C_ell = sum_m |a_lm|**2 / (2 ell + 1)`` at those few multipoles, with ``a_lm``
the projections on the real spherical harmonics (a dense ``[(lmax + 1)**2, npix]`` basis
made once with ``healpy.alm2map``), each difference of ``log C_ell`` divided by its cosmic
variance ``sqrt(2 / (2 ell + 1))`` (Gorski et al. 2005 for HEALPix; the cosmic variance is
that of a Gaussian field's ``C_ell`` estimate).
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
import torch

from ..domains.healpix import healpy_module, npix_of, nside_of
from ..errors import TexsynthError
from ..stats.scattering1d import as_signal_batch
from .base import TextureLoss

__all__ = ["LOW_LMAX", "LogSpectrumLoss", "MultipoleLoss", "real_harmonics"]

#: multipoles matched by default: the dipole to ell = 8 (the coarsest wavelets, at nside 2,
#: reach about ell = 4)
LOW_LMAX = 8


class _QuietLogger:
    """Raise a logger's level to WARNING inside a ``with`` block."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)
        self.level = self.logger.level

    def __enter__(self) -> None:
        self.level = self.logger.level
        self.logger.setLevel(logging.WARNING)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


@functools.cache
def real_harmonics(nside: int, lmax: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The real spherical harmonics up to ``lmax`` on the nested pixels of ``nside``,
    orthonormal on the sphere, ``[(lmax + 1)**2 - 1, npix]`` (the monopole left out), and
    the ``ell`` of each row."""
    hp = healpy_module()
    quiet = _QuietLogger("healpy")  # (alm2map logs its zero smoothing at INFO level)
    size = hp.Alm.getsize(lmax)
    rows, ells = [], []
    for ell in range(1, lmax + 1):
        for m in range(ell + 1):
            for part in (1.0, 1j) if m else (1.0,):
                alm = np.zeros(size, dtype=np.complex128)
                alm[hp.Alm.getidx(lmax, ell, m)] = part
                with quiet:
                    ring = hp.alm2map(alm, nside, lmax=lmax)
                # alm2map of a single m > 0 coefficient gives 2 Re or -2 Im of Y_lm
                rows.append(hp.reorder(ring, r2n=True) / (math.sqrt(2) if m else 1.0))
                ells.append(ell)
    return torch.as_tensor(np.stack(rows)), torch.as_tensor(ells)


class LogSpectrumLoss(TextureLoss):
    """Base of the sky spectrum losses: ``log_spectrum(x) [B, C, K]`` against the
    exemplar's ``target [C, K]``, in units of ``sigma [K]``, squared and averaged.

    Subclasses set ``nside``, the buffers ``target`` and ``sigma``, and ``log_spectrum``.
    """

    ndim = 1
    nside: int
    sigma: torch.Tensor
    target: torch.Tensor

    def log_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """``log C`` of maps ``x [B, C, npix]`` per multipole or bin, ``[B, C, K]``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Losses ``[B]`` of maps ``x [B, C, npix]`` (the exemplar's nside)."""
        x = as_signal_batch(x, "maps")
        if int(x.shape[-1]) != npix_of(self.nside):
            raise TexsynthError(
                f"the maps have {x.shape[-1]} pixels, the loss was built for nside {self.nside} "
                f"({npix_of(self.nside)}); give maps of that nside"
            )
        log = self.log_spectrum(x)
        d = (log - self.target.to(log.dtype)) / self.sigma.to(log.dtype)
        return d.pow(2).mean((1, 2)).to(x.dtype)


class MultipoleLoss(LogSpectrumLoss):
    """Squared differences of ``log C_ell`` from an exemplar sky's, for ``1 <= ell <= lmax``,
    in units of cosmic variance, averaged over ``ell``.

    Parameters
    ----------
    exemplar
        ``[npix]``, ``[C, npix]`` or ``[B, C, npix]`` full-sky maps (nested ordering); with
        ``B > 1`` their spectra are averaged.
    lmax
        The highest multipole matched (at most ``3 nside - 1``).
    """

    basis: torch.Tensor
    ells: torch.Tensor

    def __init__(self, exemplar: torch.Tensor, *, lmax: int = LOW_LMAX) -> None:
        super().__init__()
        ex = as_signal_batch(exemplar, "exemplar")
        nside = nside_of(int(ex.shape[-1]), "the exemplar")
        if isinstance(lmax, bool) or not isinstance(lmax, int) or not 1 <= lmax < 3 * nside:
            raise TexsynthError(
                f"lmax must be an integer from 1 to 3 nside - 1 = {3 * nside - 1}, got {lmax!r}"
            )
        self.lmax, self.nside = lmax, nside
        basis, ells = real_harmonics(nside, lmax)
        self.register_buffer("basis", basis.to(ex.dtype), persistent=False)
        self.register_buffer("ells", ells, persistent=False)
        sigma = torch.sqrt(2.0 / (2.0 * torch.arange(1, lmax + 1, dtype=ex.dtype) + 1.0))
        self.register_buffer("sigma", sigma, persistent=False)
        self.register_buffer("target", self.log_spectrum(ex).mean(0), persistent=False)

    def at(self, exemplar: torch.Tensor, **overrides: object) -> MultipoleLoss:
        """The same loss from another exemplar map (``overrides``: ``lmax``)."""
        lmax = overrides.get("lmax", self.lmax)
        assert isinstance(lmax, int)
        return MultipoleLoss(exemplar, lmax=lmax)

    def log_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """``log C_ell`` of ``x [B, C, npix]`` for ``ell = 1 ... lmax``, ``[B, C, lmax]``."""
        basis = self.basis
        area = 4 * math.pi / npix_of(self.nside)
        x = x.to(basis.dtype)
        # (the monopole removed first: the pixel quadrature would leak a little of a large
        # mean into the dipole)
        a = (x - x.mean(-1, keepdim=True)) @ basis.T * area  # [B, C, (lmax+1)**2 - 1]
        power = torch.zeros(*a.shape[:2], self.lmax + 1, dtype=a.dtype, device=a.device)
        power = power.index_add(-1, self.ells, a * a)[..., 1:]
        counts = 2 * torch.arange(1, self.lmax + 1, dtype=a.dtype, device=a.device) + 1
        return torch.log(power / counts + 1e-30)
