"""Scattering-covariance statistics of images (the ``eval`` of the ``foscat`` package),
periodic and fast: the 2-D front of :mod:`texsynth.stats.scattering_core`.

Scale ``j`` is computed on a grid downsampled by ``2**max(j-1, 0)`` by cropping spectra
(exact, anti-aliased, periodic); the definitions of S0 to S4 are in
:mod:`texsynth.stats.scattering_core`.
"""

from __future__ import annotations

import torch

from .._deprecation import renamed_keywords
from ..domains.grid import PeriodicGrid
from ..errors import TexsynthError
from ..wavelets import WaveletBank, check_J
from .scatcov import ScatCov
from .scattering_core import ScatteringCore

__all__ = ["ScatteringCovariance"]


class ScatteringCovariance(ScatteringCore):
    """Scattering-covariance statistics of ``[B, C, H, W]`` images (the ``eval`` of ``foscat``).

    Parameters
    ----------
    J
        Number of dyadic scales; ``None`` uses the most the image size allows
        (``floor(log2(min(H, W))) - 2``).
    L
        Number of orientations over ``[0, pi)``.

    Notes
    -----
    Filters are built once per image size and kept as non-persistent buffers, so the module
    follows ``.to(device)``. Boundaries are periodic unless ``edge=True``. Statistics are
    computed per channel; every operation is differentiable.

    Examples
    --------
    >>> import torch
    >>> from texsynth import ScatteringCovariance
    >>> sc = ScatteringCovariance(J=3, L=4)
    >>> stats = sc(torch.randn(2, 1, 32, 32))
    >>> tuple(stats.S4.shape)
    (2, 1, 10, 4, 4, 4)
    """

    def __init__(self, J: int | None = None, L: int = 4) -> None:
        if not isinstance(L, int) or isinstance(L, bool) or L < 1:
            raise TexsynthError(f"L (number of orientations) must be a positive integer, got {L!r}")
        super().__init__(PeriodicGrid(2), J, L)

    def make_bank(self, shape: tuple[int, ...], J: int) -> WaveletBank:
        """A new oriented wavelet bank for ``shape = (H, W)`` images and ``J`` scales."""
        H, W = shape
        return WaveletBank(H, W, J, self.L)

    def check_scales(self, shape: tuple[int, ...], J: int) -> None:
        """Raise a one-line error when ``J`` scales do not fit ``shape = (H, W)`` images."""
        H, W = shape
        check_J(H, W, J)

    def bank(self, H: int, W: int, J: int, device: torch.device) -> WaveletBank:
        """The wavelet bank for ``H x W`` images and ``J`` scales, built on first use."""
        return self.bank_for((H, W), J, device)  # type: ignore[return-value]

    @renamed_keywords(Jmax="J")
    def resolve_J(self, H: int, W: int, J: int | None = None) -> int:
        """Number of scales used for an ``H x W`` image (``J`` overrides ``self.J``)."""
        return self.scales_for((H, W), J)

    # ------------------------------------------------------------------ forward
    @renamed_keywords(Jmax="J")
    def forward(
        self,
        image1: torch.Tensor,
        image2: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        norm: str | None = None,
        calc_var: bool = False,
        J: int | None = None,
        edge: bool = False,
    ) -> ScatCov | tuple[ScatCov, ScatCov]:
        """Compute the statistics of ``image1`` (or cross statistics with ``image2``).

        Parameters
        ----------
        image1
            ``[B, C, H, W]`` (also ``[H, W]`` or ``[C, H, W]``) real images.
        image2
            Optional second batch of the same shape: cross statistics (adds ``S3P``).
        mask
            Weights in [0, 1], ``[H, W]`` or broadcastable ``[B|1, C|1, H, W]``; pixels with
            weight 0 never influence any statistic (their values are replaced before
            filtering and coefficients near them are excluded).
        norm
            ``None`` (raw), ``"auto"`` (divide by the reference S2 cached on the first call;
            see :meth:`reset_norm`) or ``"self"`` (divide by this image's own S2). S1 is
            divided by ``sqrt(S2)``, S2 by S2, S3 by ``sqrt(S2_j2 S2_j3)``, S4 by
            ``sqrt(S2_j1 S2_j2)``.
        calc_var
            Also return per-coefficient standard deviations (standard errors of each spatial
            mean), usable as ``sigma`` in :meth:`ScatCov.distance`.
        J
            Number of scales for this call (default the ``J`` given to the constructor);
            ``Jmax`` is its deprecated old name.
        edge
            Treat the image as non-periodic: it is reflect-padded (no wrap-around step) and
            only coefficients far enough from the border enter the means.

        Returns
        -------
        ScatCov or (ScatCov, ScatCov)
            The statistics, and with ``calc_var`` their standard deviations.
        """
        x, y, m = self.parse_inputs(image1, image2, mask, ("image1", "image2"))
        return self.statistics(x, y, m, norm=norm, calc_var=calc_var, J=J, edge=edge)
