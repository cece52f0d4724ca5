"""Scattering-covariance statistics of HEALPix sky maps (foscat's spherical ``eval``).

The definitions are those of :class:`~texsynth.stats.ScatteringCovariance` on images, with
the oriented stencil wavelets of :mod:`texsynth.healpix_wavelets` on the sphere
(:class:`~texsynth.domains.healpix.HealpixSphere`, nested ordering): scale ``j`` is
computed on the sky of ``nside / 2**j``, and means are over pixels (all of equal area).
This front adds nothing to the shared core (:class:`~texsynth.stats.scattering_core.
ScatteringCore`) but the parsing of its inputs and the choice of bank (and, for spin-2 maps,
the S0 of their amplitude).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .._deprecation import renamed_keywords
from ..domains.healpix import HealpixSphere, nside_of
from ..errors import TexsynthError
from ..healpix_kernels import KERNEL_SIZE
from ..healpix_spin import STATISTICS_SPINS, HealpixSpinWaveletBank, as_spin_field, check_spin
from ..healpix_wavelets import BANK_METHODS, HealpixWaveletBank
from .scatcov import ScatCov
from .scattering_core import ScatteringCore

__all__ = ["HealpixScatteringCovariance", "check_bank"]


class HealpixScatteringCovariance(ScatteringCore):
    """Scattering-covariance statistics of ``[B, C, npix]`` HEALPix maps (nested ordering,
    full sky).

    Parameters
    ----------
    J
        Number of scales (``nside``, ``nside / 2``, ...); ``None``: down to ``nside = 2``,
        ``log2(nside)`` scales.
    L
        Number of orientations (angles ``pi l / L`` from the local east towards north).
    K
        Stencil size of the wavelets (pixels a side, odd; foscat's ``KERNELSZ``).
    spin
        0 (scalar maps) or 2 (polarisation, foscat's ``spin=2``): the maps are ``[B, 2F,
        npix]``, ``(Q, U)`` pairs of channels in healpy's COSMO convention, filtered with
        parallel transport (:mod:`texsynth.healpix_spin`); the statistics have ``F``
        channels, S0 is the mean and standard deviation of the amplitude ``|Q + i U|``
        (the frame-dependent means of Q and U are not statistics of the sky), and a mask is
        one map per sky (``[npix]`` or ``[B, 1, npix]``). 1: vector fields, the same with
        ``(v_theta, v_phi)`` pairs (healpy's ``alm2map_spin(..., spin=1)`` maps) and
        spin-1 transport (foscat's ``spin=1``).
    bank
        How the wavelets are applied: ``"faces"`` (the default for scalar maps: the 12 base
        faces as padded images and ``conv2d``, :mod:`texsynth.healpix_faces`, several
        times faster) or ``"stencil"`` (each pixel's own tangent-plane stencil, foscat's
        construction and the reference; the only one for ``spin=2``). ``None``: the
        default for the spin. docs/sphere.md compares the two.

    Examples
    --------
    >>> import torch
    >>> from texsynth.stats.healpix import HealpixScatteringCovariance
    >>> stats = HealpixScatteringCovariance(J=3)(torch.randn(1, 1, 12 * 16**2))
    >>> tuple(stats.S1.shape)
    (1, 1, 3, 4)
    """

    def __init__(
        self,
        J: int | None = None,
        L: int = 4,
        K: int = KERNEL_SIZE,
        spin: int = 0,
        bank: str | None = None,
    ) -> None:
        if isinstance(L, bool) or not isinstance(L, int) or L < 1:
            raise TexsynthError(f"L (orientations) must be a positive integer, got {L!r}")
        super().__init__(HealpixSphere(), J, L)
        self.K = K
        self.spin = check_spin(spin, STATISTICS_SPINS)
        self.bank = check_bank(bank, self.spin)

    def make_bank(self, shape: tuple[int, ...], J: int) -> HealpixWaveletBank:
        """The stencil wavelets for maps of ``shape = (npix,)`` and ``J`` scales."""
        if self.spin:
            return HealpixSpinWaveletBank(nside_of(shape[0]), J, self.L, self.K, self.spin)
        return HealpixWaveletBank(nside_of(shape[0]), J, self.L, self.K, method=self.bank)

    def check_scales(self, shape: tuple[int, ...], J: int) -> None:
        """A one-line error when ``J`` scales do not fit maps of ``shape = (npix,)``."""
        nside = nside_of(shape[0], "the map")
        most = int(math.log2(nside))
        if nside < 2:
            raise TexsynthError(
                "a map of nside 1 (12 pixels) is too coarse for the scattering statistics; "
                "give a map of nside >= 2"
            )
        if J > most:
            raise TexsynthError(
                f"a map of nside {nside} supports at most J={most} scales (down to nside 2), "
                f"got J={J}; use J<={most} or a finer map"
            )

    @renamed_keywords(Jmax="J")
    def forward(
        self,
        map1: torch.Tensor,
        map2: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        norm: str | None = None,
        calc_var: bool = False,
        J: int | None = None,
        edge: bool = False,
    ) -> ScatCov | tuple[ScatCov, ScatCov]:
        """Compute the statistics of ``map1`` (or cross statistics with ``map2``).

        Parameters
        ----------
        map1
            ``[B, C, npix]`` (also ``[npix]`` or ``[C, npix]``) real maps, nested ordering
            (with ``spin=2``: ``C = 2F``, ``(Q, U)`` pairs).
        map2
            Optional second batch of the same shape: cross statistics (adds ``S3P``).
        mask
            Weights in [0, 1], ``[npix]`` or broadcastable ``[B|1, C|1, npix]`` (a partial
            sky: 0 outside it); pixels of weight 0 never influence any statistic (they are
            replaced before filtering, and coefficients within a wavelet's reach of them
            are left out of the means).
        norm
            ``None`` (raw), ``"auto"`` (divide by the reference S2 cached on the first
            call) or ``"self"`` (the map's own S2).
        calc_var
            Also return per-coefficient standard errors.
        J
            Number of scales for this call (default the ``J`` given to the constructor);
            ``Jmax`` is its deprecated old name.
        edge
            Accepted for the other domains' signature: a full sky has no edge (a partial
            sky is a ``mask``).

        Returns
        -------
        ScatCov or (ScatCov, ScatCov)
            The statistics, and with ``calc_var`` their standard errors.
        """
        x, y, m = self.parse_inputs(map1, map2, mask, ("map1", "map2"), hint="mask=...")
        if self.spin:
            check_spin_inputs(x, m)
        return self.statistics(x, y, m, norm=norm, calc_var=calc_var, J=J, edge=False)

    def _raw(
        self, x: torch.Tensor, y: torch.Tensor | None, *args: Any, **kwargs: Any
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The core's raw statistics; for spin-2 maps S0 is that of the amplitude
        ``|Q + i U|`` (one channel per ``(Q, U)`` pair, like the other statistics)."""
        if self.spin:
            x = as_spin_field(x).abs()
            y = as_spin_field(y).abs() if y is not None else None
        return super()._raw(x, y, *args, **kwargs)


def check_bank(bank: str | None, spin: int) -> str:
    """The wavelet method for ``bank`` (``None``: ``"faces"`` for scalar maps, ``"stencil"``
    for spin-2 ones); a one-line error for an unknown one or faces with spin 2."""
    if bank is None:
        return "stencil" if spin else "faces"
    if bank not in BANK_METHODS:
        raise TexsynthError(
            f"unknown HEALPix wavelet bank {bank!r}; choose one of {', '.join(BANK_METHODS)}"
        )
    if spin and bank != "stencil":
        raise TexsynthError("spin-2 maps have only the stencil bank; use bank='stencil'")
    return bank


def check_spin_inputs(x: torch.Tensor, m: torch.Tensor | None) -> None:
    """One-line errors for spin-2 maps with an odd channel count or a mask per channel."""
    as_spin_field(x[:, :, :1], "the spin-2 maps")
    if m is not None and m.shape[1] != 1:
        raise TexsynthError(
            f"a spin-2 mask is one map per sky ([npix] or [B, 1, npix]) shared by Q and U, "
            f"got {m.shape[1]} channels"
        )
